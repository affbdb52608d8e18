"""The seed's four tables: Query, ClusteringRun, QueryCluster, ClusterSummary.

Field names, types and nullability follow the seed document exactly; table names match the
reference tool (``queries``, ``clustering_runs``, ``query_clusters``, ``cluster_summaries``) so
that its databases and SQL keep working. Timestamps are timezone-aware UTC on every backend.
"""

from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, TypeDecorator
from sqlmodel import Field, SQLModel

# The cluster id of queries a run placed in no cluster (HDBSCAN's noise), wherever ids are kept.
NOISE = -1


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC and always hands back an aware datetime (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC); got a naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _timestamp_field(*, index: bool = False):
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=index)


def _json_field():
    return Field(default=None, sa_type=JSON, nullable=True)


def run_id_field():
    """The foreign key to ``clustering_runs``; deleting a run deletes what belongs to it."""
    return Field(
        sa_column=Column(
            "run_id",
            String,
            ForeignKey("clustering_runs.run_id", ondelete="CASCADE"),
            nullable=False,
        )
    )


class Query(SQLModel, table=True):
    """The first user message of one conversation."""

    __tablename__ = "queries"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(unique=True, index=True, nullable=False)
    model: str = Field(index=True)
    query_text: str
    language: str | None = Field(default=None, index=True)
    extra_metadata: dict | None = _json_field()
    created_at: datetime = _timestamp_field()


class ClusteringRun(SQLModel, table=True):
    """One clustering experiment, keyed by ``run_id`` (e.g. ``kmeans-100-20251003-123456``)."""

    __tablename__ = "clustering_runs"

    run_id: str = Field(primary_key=True)
    algorithm: str = Field(index=True)
    num_clusters: int | None = None
    parameters: dict | None = _json_field()
    description: str | None = None
    created_at: datetime = _timestamp_field(index=True)


class QueryCluster(SQLModel, table=True):
    """The cluster a query was assigned to in one clustering run."""

    __tablename__ = "query_clusters"
    __table_args__ = (
        Index("ix_query_clusters_run_id_cluster_id", "run_id", "cluster_id"),
        Index("uq_query_clusters_run_id_query_id", "run_id", "query_id", unique=True),
        Index("ix_query_clusters_query_id", "query_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    query_id: int = Field(
        sa_column=Column(
            "query_id", Integer, ForeignKey("queries.id", ondelete="CASCADE"), nullable=False
        )
    )
    cluster_id: int
    confidence_score: float | None = None


class ClusterSummary(SQLModel, table=True):
    """An LLM's title and description of one cluster, in one summary run (``alias``)."""

    __tablename__ = "cluster_summaries"
    __table_args__ = (
        Index(
            "uq_cluster_summaries_run_cluster_summary_run",
            "run_id",
            "cluster_id",
            "summary_run_id",
            unique=True,
        ),
        Index("ix_cluster_summaries_run_id_alias", "run_id", "alias"),
        Index("ix_cluster_summaries_run_id_generated_at", "run_id", "generated_at"),
        Index("ix_cluster_summaries_run_id_num_queries", "run_id", "num_queries"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = run_id_field()
    cluster_id: int = Field(index=True)
    summary_run_id: str = Field(index=True)
    alias: str | None = Field(default=None, index=True)
    title: str | None = None
    description: str | None = None
    summary: str | None = None
    num_queries: int = Field(index=True)
    representative_queries: list | None = _json_field()
    model: str | None = None
    parameters: dict | None = _json_field()
    generated_at: datetime = _timestamp_field(index=True)
