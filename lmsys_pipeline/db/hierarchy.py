"""Tables for hierarchy runs: parent categories over a clustering run's clusters.

``cluster_hierarchies`` has the reference tool's columns: one row per node of one hierarchy run
(``hierarchy_run_id``). Level 0 holds the clustering run's clusters (``cluster_id`` as in
``query_clusters``, titles from the summary run the hierarchy builds on); level 1 their parents,
and so on. Parent ids continue after the largest id of the level below, so every ``cluster_id``
is unique within a hierarchy run. ``parent_cluster_id`` is null at the top, for orphans (a
cluster no proposed parent fitted, kept at its level) and for HDBSCAN noise (cluster -1).

``hierarchy_runs`` is the ledger: status, parameters, model, the summary run it builds on,
counts, requests, tokens and cost.
"""

from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, run_id_field, utc_now
from lmsys_pipeline.db.summaries import RunAccounting


class ClusterHierarchy(SQLModel, table=True):
    """One node of a hierarchy run: a cluster (level 0) or a parent category (level ≥ 1)."""

    __tablename__ = "cluster_hierarchies"
    __table_args__ = (
        Index("uq_cluster_hierarchies_run_node", "hierarchy_run_id", "cluster_id", unique=True),
        Index("ix_cluster_hierarchies_run_id_level", "run_id", "level"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    hierarchy_run_id: str = Field(index=True)
    cluster_id: int
    parent_cluster_id: int | None = Field(default=None, index=True)
    level: int
    children_ids: list = Field(default_factory=list, sa_type=JSON)
    title: str | None = None
    description: str | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class HierarchyRun(RunAccounting, table=True):
    """One hierarchy run: an alias's tree of parent categories over one clustering run."""

    __tablename__ = "hierarchy_runs"
    __table_args__ = (Index("ix_hierarchy_runs_run_id_alias", "run_id", "alias"),)

    hierarchy_run_id: str = Field(primary_key=True)
    run_id: str = run_id_field()
    alias: str
    summary_run_id: str
    model: str
    parameters: dict = Field(default_factory=dict, sa_type=JSON)
    prompt_version: str
    clusters_total: int = 0
    levels: int = 0
    level_sizes: list = Field(default_factory=list, sa_type=JSON)
    top_size: int = 0
    orphans: int = 0
