"""``assigned_after_fit``: the assignments a clustering run received after its fit.

Queries that arrive after a run's data snapshot (``max_query_id`` in its parameters) join the
run's nearest cluster (``clustering/late.py``): their ``query_clusters`` row is written like
any other (so counts and exports stay current), and this table marks it as assigned after the
fit, with the cosine to the nearest centroid and whether that is far enough to call the query
*novel*. Re-materializing the run deletes both.
"""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, run_id_field, utc_now


class AssignedAfterFit(SQLModel, table=True):
    __tablename__ = "assigned_after_fit"
    __table_args__ = (
        Index("uq_assigned_after_fit_run_query", "run_id", "query_id", unique=True),
        Index("ix_assigned_after_fit_run_novel", "run_id", "novel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    query_id: int = Field(
        sa_column=Column(
            "query_id", Integer, ForeignKey("queries.id", ondelete="CASCADE"), nullable=False
        )
    )
    cosine: float
    novel: bool
    assigned_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
