"""``cluster_lineage``: how the clusters of one clustering run relate to an earlier run's.

One row per relation (``lineage/match.py``): ``continues``, ``split`` and ``merged`` rows name
both clusters; a ``new`` row has no ``from`` cluster, a ``gone`` row no ``to`` cluster.
``overlap`` is the Jaccard index of the two clusters' query sets, ``cosine`` that of their
centroids (for ``new`` / ``gone``: of the nearest centroid on the other side). Rows belong to
the later run (``to_run_id``); computing the same pair again replaces them.
"""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, utc_now


def _run_column(name: str) -> Column:
    return Column(
        name, String, ForeignKey("clustering_runs.run_id", ondelete="CASCADE"), nullable=False
    )


class ClusterLineage(SQLModel, table=True):
    __tablename__ = "cluster_lineage"
    __table_args__ = (
        Index("ix_cluster_lineage_to", "to_run_id", "to_cluster_id"),
        Index("ix_cluster_lineage_from", "from_run_id", "from_cluster_id"),
        Index("ix_cluster_lineage_pair_kind", "to_run_id", "from_run_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    from_run_id: str = Field(sa_column=_run_column("from_run_id"))
    from_cluster_id: int | None = None
    to_run_id: str = Field(sa_column=_run_column("to_run_id"))
    to_cluster_id: int | None = None
    overlap: float
    cosine: float | None = None
    shared_queries: int = 0
    from_size: int = 0
    to_size: int = 0
    kind: str
    computed_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
