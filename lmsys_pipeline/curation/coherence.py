"""Which clusters of a run look wrong: a ranking for ``lmsys edit select-bad-clusters``.

The score is the **misfit depth**: over a cluster's members, the mean of how much closer
(cosine, in the embedding space) each sits to the best *other* cluster's centroid than to its
own, counting zero for members closer to their own (centroids as the run is now, edits
included). A cluster that mixes unrelated topics holds members that sit clearly nearer to
where their own topic is; a broad but coherent cluster does not, however loose it is. On the
bundled sample (KMeans k = 40, five clusters planted with 10 / 20 / 30% strays from three
other clusters, ten trials; ``benchmarks/bad_clusters.py``) the depth put 0.82 / 0.94 / 0.98
of the planted clusters in the top five, against 0.36 / 0.70 / 0.84 for the plain share of
members closer to another centroid, 0.70 / 0.86 / 0.92 for the 10th percentile of the margin
and 0.12 / 0.18 / 0.38 for the lowest mean cosine to the centroid. The share and the mean
cosine are reported beside it, and the language mix (share of members outside the cluster's
most common language), which is not scored: a topic may be asked in many languages.
"""

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, Query, QueryCluster
from lmsys_pipeline.reading.choice import require_run
from lmsys_pipeline.vectors import CHUNK_ROWS


@dataclass(frozen=True)
class ClusterCoherence:
    cluster_id: int
    size: int
    misfit_depth: float
    misfit_share: float
    mean_cosine: float
    other_languages_share: float
    nearest_other: int  # the cluster most of the misfits are closer to (-1: none)
    languages: int  # distinct languages among the members

    def as_dict(self) -> dict:
        return asdict(self)


def rank_clusters(db: DatabaseManager, run_id: str, *, min_size: int = 2) -> list[ClusterCoherence]:
    """The run's clusters of at least ``min_size`` queries, least coherent first."""
    from lmsys_pipeline.clustering.registry import parse_stored
    from lmsys_pipeline.embedding.loading import load_vectors
    from lmsys_pipeline.vectors import centroids, unit_rows

    with db.engine.connect() as connection:
        stored = require_run(connection, run_id)
        rows = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id, Query.language)
            .join(Query, Query.id == QueryCluster.query_id)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id != NOISE)
            .order_by(QueryCluster.query_id)
        ).all()
    if not rows:
        return []
    query_ids = np.array([r[0] for r in rows])
    clusters = np.array([r[1] for r in rows])
    loaded = load_vectors(db, parse_stored(stored).embedding_model, query_ids.tolist())
    position = {int(q): i for i, q in enumerate(loaded.query_ids)}
    keep = np.array([int(q) in position for q in query_ids])
    query_ids, clusters = query_ids[keep], clusters[keep]
    languages = [r[2] for r, kept in zip(rows, keep, strict=True) if kept]
    vectors = unit_rows(loaded.vectors[loaded.rows[[position[int(q)] for q in query_ids]]])
    ids, dense = np.unique(clusters, return_inverse=True)
    centres = centroids(vectors, dense)
    cosines = np.einsum("ij,ij->i", vectors, centres[dense])
    nearest, best_other = _best_other(vectors, centres, dense)
    depth = np.maximum(best_other - cosines, 0.0)
    ranked = []
    for index, cluster_id in enumerate(ids):
        members = np.flatnonzero(dense == index)
        if len(members) < min_size:
            continue
        misfits = nearest[members][depth[members] > 0]
        spoken = Counter(languages[i] for i in members)
        ranked.append(
            ClusterCoherence(
                cluster_id=int(cluster_id),
                size=len(members),
                misfit_depth=round(float(depth[members].mean()), 4),
                misfit_share=round(len(misfits) / len(members), 4),
                mean_cosine=round(float(cosines[members].mean()), 4),
                other_languages_share=round(1 - spoken.most_common(1)[0][1] / len(members), 4),
                nearest_other=int(ids[Counter(misfits.tolist()).most_common(1)[0][0]])
                if len(misfits)
                else NOISE,
                languages=len(spoken),
            )
        )
    return sorted(ranked, key=lambda c: (-c.misfit_depth, c.mean_cosine, c.cluster_id))


def _best_other(
    vectors: np.ndarray, centres: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the nearest centroid other than its own and the cosine to it; in chunks,
    so no rows x clusters matrix of the whole run is held."""
    nearest = np.empty(len(vectors), dtype=np.int64)
    cosine = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK_ROWS):
        scores = vectors[start : start + CHUNK_ROWS] @ centres.T
        scores[np.arange(len(scores)), labels[start : start + CHUNK_ROWS]] = -np.inf
        nearest[start : start + CHUNK_ROWS] = np.argmax(scores, axis=1)
        cosine[start : start + CHUNK_ROWS] = scores[
            np.arange(len(scores)), nearest[start : start + CHUNK_ROWS]
        ]
    return nearest, cosine


def select_clusters(
    ranked: list[ClusterCoherence],
    *,
    max_size: int | None = None,
    min_languages: int | None = None,
    among: set[int] | None = None,
) -> list[ClusterCoherence]:
    """The ranked clusters that pass the reference tool's filters: at most ``max_size``
    queries, at least ``min_languages`` languages, and (``among``) e.g. those an analyst
    rated low; the ranking is kept."""
    return [
        c
        for c in ranked
        if (max_size is None or c.size <= max_size)
        and (min_languages is None or c.languages >= min_languages)
        and (among is None or c.cluster_id in among)
    ]
