"""The run's map as data: ``lmsys map``'s seeded sample and projection, each point with its
query, its cluster and the ancestors of its cluster at every level of the tree.

Two parts, held apart (``held.py``): the projection (sampling the run, reading the sample's
vectors and texts, PCA: seconds at a million queries) depends only on the run's rows and the
vectors, so curation does not redo it; the points' clusters, ancestors and names are read
again whenever anything changed, from the sampled ids alone.
"""

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import QueryCluster
from lmsys_pipeline.explorer import data

LOOKUP_CHUNK = 5_000
TEXT_CHARS = 300


@dataclass(frozen=True)
class Projected:
    query_ids: np.ndarray
    xy: np.ndarray
    texts: list[str]
    method: str


def projected(db: DatabaseManager, run_id: str, *, sample: int, method: str) -> Projected:
    """At most ``sample`` points: the map's sample adds a few of every cluster to its draw,
    so the draw asks for fewer (and a seeded subset is kept when even those are too many)."""
    from lmsys_pipeline.outputs.projection import MIN_PER_CLUSTER, project_run
    from lmsys_pipeline.reading.clusters import cluster_sizes
    from lmsys_pipeline.summarizing.selection import fetch_texts

    drawn = max(1, sample - MIN_PER_CLUSTER * len(cluster_sizes(db, run_id)))
    projection = project_run(db, run_id, sample=drawn, method=method)
    query_ids, xy = projection.query_ids, projection.xy
    if len(query_ids) > sample:
        keep = np.sort(np.random.default_rng(42).choice(len(query_ids), sample, False))
        query_ids, xy = query_ids[keep], xy[keep]
    texts = fetch_texts(db, query_ids.tolist())
    return Projected(
        query_ids,
        np.round(xy.astype(float), 3),
        [texts.get(int(q), "")[:TEXT_CHARS] for q in query_ids.tolist()],
        method,
    )


def clusters_of(db: DatabaseManager, run_id: str, query_ids: np.ndarray) -> list[int | None]:
    """Each query's cluster in the run now (None: no longer in it)."""
    wanted = query_ids.tolist()
    found: dict[int, int] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            found.update(
                connection.execute(
                    select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                        QueryCluster.run_id == run_id, QueryCluster.query_id.in_(chunk)
                    )
                ).all()
            )
    return [found.get(q) for q in wanted]


def map_points(db: DatabaseManager, run_id: str, alias: str | None, shown: Projected) -> dict:
    """The points of ``shown`` with their clusters, ancestors and names as they are now."""
    choice = data.summary_choice(db, run_id, alias)
    found, tree = data.hierarchy(db, run_id, choice)
    top = tree.top_level if tree else 0
    groups: dict[int, list[int | None]] = {}
    if tree is not None:
        for node in tree.level(0):
            groups[node.node_id] = [
                (a.node_id if a else None)
                for a in (tree.ancestor(node.node_id, level) for level in range(1, top + 1))
            ]
    names = {n.node_id: n.title for n in tree.nodes.values()} if tree else {}
    names.update({c: t for c, t in data.titles(db, run_id, alias).items() if t})
    none = [None] * top
    points = [
        {"q": q, "c": c, "x": x, "y": y, "up": groups.get(c, none), "t": t}
        for q, c, (x, y), t in zip(
            shown.query_ids.tolist(),
            clusters_of(db, run_id, shown.query_ids),
            shown.xy.tolist(),
            shown.texts,
            strict=True,
        )
        if c is not None
    ]
    return {
        "run_id": run_id,
        "projection": shown.method,
        "levels": top,
        "hierarchy_run_id": found.hierarchy_run_id if found else None,
        "names": {str(k): v for k, v in names.items()},
        "points": points,
    }
