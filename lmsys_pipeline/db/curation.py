"""Tables for hand curation: the audit trail of edits and the analysts' notes on clusters.

Column names follow the reference tool's ``cluster_edits`` and ``cluster_metadata`` so its
queries keep working; ``undone_by`` (the undo's edit id) and ``tags`` are this project's.
``old_value`` and ``new_value`` hold what an edit changed, exactly enough to undo it: query ids,
cluster ids, titles — never a query's text, so ``lmsys delete`` leaves the audit readable.
"""

from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, run_id_field, utc_now


class ClusterEdit(SQLModel, table=True):
    """One hand edit of a clustering run: who changed what, when and why."""

    __tablename__ = "cluster_edits"
    __table_args__ = (
        Index("ix_cluster_edits_run_id_cluster_id", "run_id", "cluster_id"),
        Index("ix_cluster_edits_edit_type", "edit_type"),
        Index("ix_cluster_edits_editor", "editor"),
        Index("ix_cluster_edits_timestamp", "timestamp"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    cluster_id: int | None = None
    edit_type: str
    editor: str
    timestamp: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    old_value: dict | None = Field(default=None, sa_type=JSON)
    new_value: dict | None = Field(default=None, sa_type=JSON)
    reason: str | None = None
    undone_by: int | None = None


class ClusterMetadata(SQLModel, table=True):
    """An analyst's annotations of one cluster of a run: tags, flags, quality, notes."""

    __tablename__ = "cluster_metadata"
    __table_args__ = (
        Index("uq_cluster_metadata_run_cluster", "run_id", "cluster_id", unique=True),
        Index("ix_cluster_metadata_quality", "quality"),
        Index("ix_cluster_metadata_coherence_score", "coherence_score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    cluster_id: int
    coherence_score: float | None = None
    quality: str | None = None
    flags: list = Field(default_factory=list, sa_type=JSON)
    tags: list = Field(default_factory=list, sa_type=JSON)
    notes: str | None = None
    last_edited: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
