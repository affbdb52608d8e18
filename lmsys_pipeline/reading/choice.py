"""Which clustering run and which of its summary runs a read command is about."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from lmsys_pipeline.db.connection import DatabaseManager, connected
from lmsys_pipeline.db.models import ClusteringRun, ClusterSummary
from lmsys_pipeline.errors import UserError


class NotFound(UserError, LookupError):
    """An unknown run id, alias, summary run or cluster, said in one sentence."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class SummaryChoice:
    summary_run_id: str
    alias: str | None
    model: str | None
    generated_at: datetime
    chosen_by: str

    def as_dict(self) -> dict:
        return {
            "summary_run_id": self.summary_run_id,
            "alias": self.alias,
            "model": self.model,
            "generated_at": self.generated_at.isoformat(),
            "chosen_by": self.chosen_by,
        }


def require_run(source: DatabaseManager | Connection, run_id: str) -> dict:
    """The run's stored parameters; one sentence if there is no such run. Given a connection,
    read inside its transaction."""
    with connected(source) as connection:
        found = connection.execute(
            select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
        ).first()
    if found is None:
        raise NotFound(f"Clustering run {run_id} does not exist: lmsys runs lists them.")
    return dict(found[0] or {})


def summary_runs_of(db: DatabaseManager, run_id: str) -> list[SummaryChoice]:
    """The run's summary runs, newest first by when their rows were generated."""
    latest = func.max(ClusterSummary.generated_at)
    statement = (
        select(
            ClusterSummary.summary_run_id,
            ClusterSummary.alias,
            func.max(ClusterSummary.model),
            latest,
        )
        .where(ClusterSummary.run_id == run_id)
        .group_by(ClusterSummary.summary_run_id, ClusterSummary.alias)
        .order_by(latest.desc())
    )
    with db.engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [SummaryChoice(s, a, m, _aware(g), "") for s, a, m, g in rows]


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands aggregates back as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def choose_summary_run(
    db: DatabaseManager, run_id: str, *, alias: str | None = None, summary_run_id: str | None = None
) -> SummaryChoice | None:
    """The summary run asked for, or the run's latest by ``generated_at``; None if the run has
    none and none was asked for."""
    require_run(db, run_id)
    candidates = summary_runs_of(db, run_id)
    if summary_run_id is not None:
        found = [c for c in candidates if c.summary_run_id == summary_run_id]
        if not found:
            raise NotFound(
                f"Summary run {summary_run_id} does not belong to {run_id}: "
                f"{_known(candidates, 'summary_run_id')}."
            )
        return _with(found[0], "given")
    if alias is not None:
        found = [c for c in candidates if c.alias == alias]
        if not found:
            raise NotFound(
                f"Clustering run {run_id} has no summary run with alias {alias}: "
                f"{_known(candidates, 'alias')}."
            )
        return _with(found[0], f"alias {alias}, its latest summary run")
    return _with(candidates[0], "the latest summary run by generated_at") if candidates else None


def _known(candidates: list[SummaryChoice], field: str) -> str:
    values = sorted({str(getattr(c, field)) for c in candidates})
    return f"it has {', '.join(values)}" if values else "it has no summary runs yet"


def _with(choice: SummaryChoice, chosen_by: str) -> SummaryChoice:
    return SummaryChoice(
        choice.summary_run_id, choice.alias, choice.model, choice.generated_at, chosen_by
    )
