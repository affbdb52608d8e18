"""Which clusters of a run look wrong: a ranking for ``lmsys edit select-bad-clusters``.

The measure is the **misfit share**: the share of a cluster's members whose nearest centroid
(cosine, in the embedding space, over all the run's clusters as they are now, edits included)
is another cluster's. A cluster that mixes unrelated topics holds members that sit closer to
where their own topic is; a broad but coherent cluster does not, however loose it is, so
unlike the mean cosine to the centroid (reported beside it, and used to break ties) the share
does not just pick the broadest clusters. The language mix (share of members outside the
cluster's most common language) is reported, not scored: a topic may be asked in many
languages.
"""

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.curation.edits import NOISE
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster


@dataclass(frozen=True)
class ClusterCoherence:
    cluster_id: int
    size: int
    misfit_share: float
    mean_cosine: float
    other_languages_share: float
    nearest_other: int  # the cluster most of the misfits are closer to (-1: none)

    def as_dict(self) -> dict:
        return asdict(self)


def rank_clusters(db: DatabaseManager, run_id: str, *, min_size: int = 2) -> list[ClusterCoherence]:
    """The run's clusters of at least ``min_size`` queries, least coherent first."""
    from lmsys_pipeline.clustering.registry import parse_stored
    from lmsys_pipeline.curation.edits import EditError
    from lmsys_pipeline.embedding.store import load_vectors
    from lmsys_pipeline.vectors import centroids, nearest_centroid, unit_rows

    with db.engine.connect() as connection:
        stored = connection.execute(
            select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
        ).scalar()
        if stored is None:
            raise EditError(f"Clustering run {run_id} does not exist: lmsys runs lists them.")
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
    nearest = nearest_centroid(vectors, centres)
    cosines = np.einsum("ij,ij->i", vectors, centres[dense])
    ranked = []
    for index, cluster_id in enumerate(ids):
        members = np.flatnonzero(dense == index)
        if len(members) < min_size:
            continue
        misfits = nearest[members][nearest[members] != index]
        spoken = Counter(languages[i] for i in members)
        ranked.append(
            ClusterCoherence(
                cluster_id=int(cluster_id),
                size=len(members),
                misfit_share=round(len(misfits) / len(members), 4),
                mean_cosine=round(float(cosines[members].mean()), 4),
                other_languages_share=round(1 - spoken.most_common(1)[0][1] / len(members), 4),
                nearest_other=int(ids[Counter(misfits.tolist()).most_common(1)[0][0]])
                if len(misfits)
                else NOISE,
            )
        )
    return sorted(ranked, key=lambda c: (-c.misfit_share, c.mean_cosine, c.cluster_id))
