"""Tables for summary runs, beside the seed's ``cluster_summaries``.

``summary_runs`` is the ledger: one row per summary run (``summary_run_id``), with the alias,
model, every parameter, the prompt version, its progress and cost, and its label quality.
``llm_responses`` caches validated answers by the hash of the server and the exact request, so
an identical prompt (a re-run, a second alias with the same model on the same server) is never
paid for twice. ``alias_leases`` holds one row per (kind, clustering run, alias) that a process
is working on (``summarizing/lease.py``), so two processes never ask for the same alias at once.
"""

from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, run_id_field, utc_now

# The key, in a summary or hierarchy run's parameters, of its label measures
# (labeling/measures.py computes them).
LABEL_MEASURES = "label_measures"


class RunAccounting(SQLModel):
    """What every ledger of model-backed runs records: status, failures and spend."""

    status: str = "running"
    failures: dict = Field(default_factory=dict, sa_type=JSON)
    requests: int = 0
    cached_responses: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    estimated_cost_usd: float | None = None
    seconds: float = 0.0
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class SummaryRun(RunAccounting, table=True):
    """One summary run: an alias's titles and descriptions for every cluster of a run."""

    __tablename__ = "summary_runs"
    __table_args__ = (Index("ix_summary_runs_run_id_alias", "run_id", "alias"),)

    summary_run_id: str = Field(primary_key=True)
    run_id: str = run_id_field()
    alias: str
    model: str
    parameters: dict = Field(default_factory=dict, sa_type=JSON)
    prompt_version: str
    clusters_total: int = 0
    clusters_done: int = 0
    clusters_failed: int = 0
    label_accuracy: float | None = None
    label_accuracy_queries: int | None = None


class LLMResponse(SQLModel, table=True):
    """A validated answer, keyed by the SHA-256 of server + model + messages + schema +
    settings."""

    __tablename__ = "llm_responses"

    prompt_hash: str = Field(primary_key=True)
    model: str
    response: dict = Field(sa_type=JSON)
    tokens_in: int = 0
    tokens_out: int = 0
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class AliasLease(SQLModel, table=True):
    """Who is running a summary (``kind`` ``summary``) or hierarchy run of an alias now, until
    when (renewed while it runs). No foreign key: a lease outlives nothing it points to."""

    __tablename__ = "alias_leases"

    kind: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    alias: str = Field(primary_key=True)
    owner: str
    host: str
    pid: int
    acquired_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
