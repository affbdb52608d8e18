"""The most central queries of a run's clusters: what every report shows as examples.

Central means the highest ``confidence_score`` (KMeans: cosine to the centroid). HDBSCAN's
confidence is a membership probability that is exactly 1 for most of a dense cluster (743 of
the 860 queries of the demo's largest cluster), so ordering by it alone shows whichever tied
queries have the lowest ids. Ties are broken by the cosine of each tied query to the unit mean
of the tied queries (the cluster's dense core), read from the stored vectors.
"""

from collections import defaultdict

import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster

# Tied queries weighed per cluster (by query id); enough to find a core's centre.
TIE_CANDIDATES = 500


def _ranked_candidates(
    db: DatabaseManager, run_id: str, cluster_ids: list[int], per_cluster: int
) -> dict[int, list[tuple[int, float | None]]]:
    """Per cluster, its first ``per_cluster`` queries by confidence and the queries tied with
    the last of them (up to ``TIE_CANDIDATES``): (query id, confidence), best first."""
    rank = (
        func.row_number()
        .over(
            partition_by=QueryCluster.cluster_id,
            order_by=(QueryCluster.confidence_score.desc().nullslast(), QueryCluster.query_id),
        )
        .label("rank")
    )
    ranked = (
        select(QueryCluster.cluster_id, QueryCluster.query_id, QueryCluster.confidence_score, rank)
        .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_(cluster_ids))
        .subquery()
    )
    found: dict[int, list[tuple[int, float | None]]] = defaultdict(list)
    with db.engine.connect() as connection:
        for cluster_id, query_id, confidence, _ in connection.execute(
            select(ranked)
            .where(ranked.c.rank <= max(per_cluster, TIE_CANDIDATES))
            .order_by(ranked.c.cluster_id, ranked.c.rank)
        ):
            found[int(cluster_id)].append((int(query_id), confidence))
    cut = {}
    for cluster_id, rows in found.items():
        last = rows[min(per_cluster, len(rows)) - 1][1]
        cut[cluster_id] = [
            row for position, row in enumerate(rows) if position < per_cluster or row[1] == last
        ]
    return cut


def _by_core_cosine(db: DatabaseManager, model: str, tied: list[int]) -> list[int]:
    """``tied`` query ids, the closest (cosine) to their own unit mean first."""
    from lmsys_pipeline.embedding.loading import load_vectors

    stored = load_vectors(db, model, tied)
    vectors = stored.for_queries()
    position = {int(q): i for i, q in enumerate(stored.query_ids)}
    known = [q for q in tied if q in position]
    members = vectors[[position[q] for q in known]]
    core = members.sum(axis=0)
    core /= max(float(np.linalg.norm(core)), 1e-12)
    order = np.argsort(-(members @ core), kind="stable")
    return [known[i] for i in order] + [q for q in tied if q not in position]


def central_query_ids(
    db: DatabaseManager, run_id: str, cluster_ids: list[int], per_cluster: int
) -> dict[int, list[int]]:
    """Each cluster's ``per_cluster`` most central query ids, most central first."""
    if per_cluster <= 0 or not cluster_ids:
        return {}
    with db.engine.connect() as connection:
        parameters = connection.execute(
            select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
        ).scalar_one_or_none()
    model = (parameters or {}).get("embedding_model")
    chosen: dict[int, list[int]] = {c: [] for c in cluster_ids}
    for cluster_id, rows in _ranked_candidates(db, run_id, cluster_ids, per_cluster).items():
        if len(rows) <= per_cluster or model is None:
            chosen[cluster_id] = [q for q, _ in rows[:per_cluster]]
            continue
        tie = rows[per_cluster - 1][1]
        above = [q for q, confidence in rows if confidence != tie]
        tied = [q for q, confidence in rows if confidence == tie]
        chosen[cluster_id] = (above + _by_core_cosine(db, model, tied))[:per_cluster]
    return chosen


def central_queries(
    db: DatabaseManager, run_id: str, cluster_ids: list[int], per_cluster: int
) -> dict[int, list[str]]:
    """Each cluster's most central query texts, most central first."""
    chosen = central_query_ids(db, run_id, cluster_ids, per_cluster)
    wanted = [q for ids in chosen.values() for q in ids]
    texts: dict[int, str] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(wanted), 10_000):
            texts.update(
                connection.execute(
                    select(Query.id, Query.query_text).where(
                        Query.id.in_(wanted[start : start + 10_000])
                    )
                ).all()
            )
    return {c: [texts[q] for q in ids] for c, ids in chosen.items()}
