"""The summary-run ledger and the rows it owns.

Starting an alias on a clustering run either resumes its summary run (same outcome
parameters and prompt version: only clusters without a row are asked for) or starts a new one
that replaces the alias's rows (``labeling/ledger.py``, with ``SUMMARY_LEDGER``). Every
finished cluster is committed on its own, together with the ledger's counters, so a kill loses
at most the clusters in flight.

``restart`` means "ask the model again": the new summary run is marked ``fresh_answers`` and,
resumed or not, takes from ``llm_responses`` only answers cached since it started; the answers
it gets replace the older cached ones, so later runs (another alias, the same prompts) reuse
the new answers.
"""

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlmodel import Session

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary, utc_now
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.labeling.cache import store_answer
from lmsys_pipeline.labeling.lease import SUMMARY
from lmsys_pipeline.labeling.ledger import FRESH, LedgerKind, close_entry
from lmsys_pipeline.labeling.measures import LABEL_MEASURES
from lmsys_pipeline.summarizing.params import (
    SummaryInputError,
    SummaryParams,
    new_summary_run_id,
)
from lmsys_pipeline.summarizing.results import LabelResult

# In a ledger entry's parameters: cluster → the earlier run's cluster whose label it carries.
CARRIED = "carried"


def _drop_rows(session: Session, run_id: str, alias: str) -> None:
    """A new summary run of the alias replaces its rows at once."""
    session.execute(
        delete(ClusterSummary).where(ClusterSummary.run_id == run_id, ClusterSummary.alias == alias)
    )


SUMMARY_LEDGER = LedgerKind(
    name=SUMMARY,
    table=SummaryRun,
    new_id=new_summary_run_id,
    error=SummaryInputError,
    kept=(CARRIED, FRESH),
    on_new=_drop_rows,
)


def summarized_sizes(db: DatabaseManager, summary_run_id: str) -> dict[int, int]:
    with db.engine.connect() as connection:
        return dict(
            connection.execute(
                select(ClusterSummary.cluster_id, ClusterSummary.num_queries).where(
                    ClusterSummary.summary_run_id == summary_run_id
                )
            ).all()
        )


def summary_labels(db: DatabaseManager, summary_run_id: str) -> dict[int, tuple[str, str]]:
    """Cluster id → (title, description) of a summary run ("" where one is missing)."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                ClusterSummary.cluster_id, ClusterSummary.title, ClusterSummary.description
            ).where(ClusterSummary.summary_run_id == summary_run_id)
        ).all()
    return {c: (t or "", d or "") for c, t, d in rows}


def record(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    summary_run_id: str,
    params: SummaryParams,
    results: list[LabelResult],
    fresh_since: datetime | None = None,
) -> None:
    """Writes clusters' rows and the ledger's counters in one transaction; new answers are
    cached (replacing those cached before ``fresh_since``)."""
    stored_params = params.stored()
    with db.get_session() as session:
        entry = session.get(SummaryRun, summary_run_id)
        failures = dict(entry.failures or {})
        carried = dict((entry.parameters or {}).get(CARRIED, {}))
        for result in results:
            cluster_id = result.brief.cluster_id
            session.execute(
                delete(ClusterSummary).where(
                    ClusterSummary.summary_run_id == summary_run_id,
                    ClusterSummary.run_id == run_id,
                    ClusterSummary.cluster_id == cluster_id,
                )
            )
            if result.label is None:
                failures[str(cluster_id)] = result.error or "unknown error"
            else:
                failures.pop(str(cluster_id), None)
                session.add(
                    ClusterSummary(
                        run_id=run_id,
                        cluster_id=cluster_id,
                        summary_run_id=summary_run_id,
                        alias=alias,
                        title=result.label.title,
                        description=result.label.description,
                        summary=result.label.summary,
                        num_queries=result.brief.size,
                        representative_queries=result.brief.queries,
                        model=params.model,
                        parameters=stored_params
                        if result.carried_from is None
                        else {**stored_params, "carried_from": result.carried_from},
                        generated_at=utc_now(),
                    )
                )
                if result.prompt_hash and not result.cached:
                    store_answer(
                        session,
                        result.prompt_hash,
                        params.model,
                        {"title": result.label.title, "description": result.label.description},
                        result.tokens_in,
                        result.tokens_out,
                        replace_before=fresh_since,
                    )
            if result.carried_from is not None:
                carried[str(cluster_id)] = result.carried_from
            entry.requests += result.requests
            entry.tokens_in += result.tokens_in
            entry.tokens_out += result.tokens_out
            entry.cached_responses += int(result.cached)
        entry.failures = failures
        entry.clusters_failed = len(failures)
        if carried:
            entry.parameters = {**entry.parameters, CARRIED: carried}
        session.add(entry)
        session.flush()
        entry.clusters_done = session.execute(
            select(func.count())
            .select_from(ClusterSummary)
            .where(ClusterSummary.summary_run_id == summary_run_id)
        ).scalar_one()
        session.add(entry)
        session.commit()


def finish(
    db: DatabaseManager,
    summary_run_id: str,
    params: SummaryParams,
    *,
    clusters_total: int,
    seconds: float,
    accuracy: tuple[float | None, int | None],
    measures: dict | None = None,
    nothing_labelled: bool = False,
) -> SummaryRun:
    """Closes the ledger entry: status (``failed`` when clusters were asked for and none got
    a label), seconds, the estimated cost of all tokens spent (0 offline, None when the model's
    price is not known), label quality and the label ``measures`` (in its parameters)."""
    with db.get_session() as session:
        entry = session.get(SummaryRun, summary_run_id)
        entry.clusters_total = clusters_total
        if entry.clusters_done == clusters_total:
            entry.status = "completed"
        else:
            entry.status = "failed" if nothing_labelled else "partial"
        entry.label_accuracy, entry.label_accuracy_queries = accuracy
        if measures is not None:
            entry.parameters = {**(entry.parameters or {}), LABEL_MEASURES: measures}
        return close_entry(session, entry, params, seconds)


def abort(
    db: DatabaseManager,
    summary_run_id: str,
    params: SummaryParams,
    *,
    clusters_total: int,
    seconds: float,
) -> None:
    """Closes the ledger entry of a run stopped by an error: ``partial`` when some clusters
    have their row (running the command again resumes it), else ``failed``."""
    with db.get_session() as session:
        entry = session.get(SummaryRun, summary_run_id)
        entry.clusters_total = clusters_total
        entry.status = "partial" if entry.clusters_done else "failed"
        close_entry(session, entry, params, seconds)
