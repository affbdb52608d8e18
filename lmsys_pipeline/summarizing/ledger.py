"""The summary-run ledger and the rows it owns.

Starting an alias on a clustering run either resumes its summary run (same outcome
parameters and prompt version: only clusters without a row are asked for) or starts a new one
that replaces the alias's rows. Every finished cluster is committed on its own, together with
the ledger's counters, so a kill loses at most the clusters in flight.

``restart`` means "ask the model again": the new summary run is marked ``fresh_answers`` and,
resumed or not, takes from ``llm_responses`` only answers cached since it started; the answers
it gets replace the older cached ones, so later runs (another alias, the same prompts) reuse
the new answers.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary, utc_now
from lmsys_pipeline.db.summaries import LLMResponse, SummaryRun
from lmsys_pipeline.summarizing.params import (
    PROMPT_VERSION,
    SummaryInputError,
    SummaryParams,
    new_summary_run_id,
)
from lmsys_pipeline.summarizing.providers import estimate_cost
from lmsys_pipeline.summarizing.results import LabelResult


@dataclass(frozen=True)
class Started:
    """``fresh_since``: set when the run was started with ``restart``; cached answers older
    than it are not used."""

    summary_run_id: str
    resumed: bool
    replaced: list[str]
    fresh_since: datetime | None = None


def _resumable(entry: SummaryRun, params: SummaryParams) -> bool:
    stored = {k: entry.parameters.get(k) for k in params.outcome()}
    return entry.prompt_version == PROMPT_VERSION and stored == params.outcome()


ID_ATTEMPTS = 5
T = TypeVar("T")
# In a ledger entry's parameters: cluster → the earlier run's cluster whose label it carries.
CARRIED = "carried"
# In a ledger entry's parameters: true when it was started with restart (ask again).
FRESH = "fresh_answers"


def kept_parameters(entry, stored: dict) -> dict:
    """A resumed entry's new parameters (``stored``), keeping its record of carried clusters
    and whether it asks afresh."""
    old = entry.parameters or {}
    return {**stored, **{key: old[key] for key in (CARRIED, FRESH) if old.get(key)}}


def fresh_since(entry) -> datetime | None:
    """When a ledger entry started with restart began (its cache horizon), else None."""
    return entry.created_at if (entry.parameters or {}).get(FRESH) else None


def live_entries(run_id: str, alias: str):
    """The alias's summary runs on ``run_id`` that were not replaced, newest first."""
    return (
        select(SummaryRun)
        .where(
            SummaryRun.run_id == run_id,
            SummaryRun.alias == alias,
            SummaryRun.status != "replaced",
        )
        .order_by(SummaryRun.created_at.desc())
    )


def with_free_id(start: Callable[[], T], what: str) -> T:
    """Runs ``start`` (which picks a new run id and inserts it) until its id is free: another
    run may take the same id in the same second, and the primary key refuses the second."""
    for _ in range(ID_ATTEMPTS):
        try:
            return start()
        except IntegrityError:
            continue
    raise RuntimeError(f"Could not pick a free id for {what}.")


def mark_replaced(session: Session, table, key, ids: list[str]) -> None:
    """Ledger entries ``ids`` (``key`` of ``table``) become ``replaced``: a new run of their
    alias supersedes them."""
    if ids:
        session.execute(update(table).where(key.in_(ids)).values(status="replaced"))


def start_summary_run(
    db: DatabaseManager, run_id: str, alias: str, params: SummaryParams, *, restart: bool = False
) -> Started:
    return with_free_id(
        lambda: _start(db, run_id, alias, params, restart), f"a summary run of {alias} on {run_id}"
    )


def _start(
    db: DatabaseManager, run_id: str, alias: str, params: SummaryParams, restart: bool
) -> Started:
    with db.get_session() as session:
        entries = session.execute(live_entries(run_id, alias)).scalars().all()
        current = entries[0] if entries else None
        if current is not None and not restart and _resumable(current, params):
            current.parameters = kept_parameters(current, params.stored())
            current.status = "running"
            session.add(current)
            session.commit()
            return Started(current.summary_run_id, True, [], fresh_since(current))
        existing = set(session.execute(select(SummaryRun.summary_run_id)).scalars())
        summary_run_id = new_summary_run_id(params.model, existing)
        replaced = [entry.summary_run_id for entry in entries]
        session.execute(
            delete(ClusterSummary).where(
                ClusterSummary.run_id == run_id, ClusterSummary.alias == alias
            )
        )
        mark_replaced(session, SummaryRun, SummaryRun.summary_run_id, replaced)
        entry = SummaryRun(
            summary_run_id=summary_run_id,
            run_id=run_id,
            alias=alias,
            model=params.model,
            parameters={**params.stored(), **({FRESH: True} if restart else {})},
            prompt_version=PROMPT_VERSION,
        )
        session.add(entry)
        session.commit()
        return Started(summary_run_id, False, replaced, fresh_since(entry))


def resume_summary_run(
    db: DatabaseManager, summary_run_id: str, run_id: str, alias: str, params: SummaryParams
) -> Started:
    """Continues the named summary run of ``alias`` on ``run_id`` (the one the CLI prepared)."""
    with db.get_session() as session:
        entry = session.get(SummaryRun, summary_run_id)
        if entry is None or (entry.run_id, entry.alias) != (run_id, alias):
            raise SummaryInputError(
                f"{summary_run_id} is not a summary run of alias {alias} on {run_id}: leave "
                "summary_run_id out to start or resume the alias."
            )
        if entry.status == "replaced" or not _resumable(entry, params):
            raise SummaryInputError(
                f"{summary_run_id} was replaced or made with other settings: leave "
                "summary_run_id out to start a new summary run."
            )
        entry.parameters = kept_parameters(entry, params.stored())
        entry.status = "running"
        session.add(entry)
        session.commit()
        return Started(summary_run_id, True, [], fresh_since(entry))


def summarized_sizes(db: DatabaseManager, summary_run_id: str) -> dict[int, int]:
    with db.engine.connect() as connection:
        return dict(
            connection.execute(
                select(ClusterSummary.cluster_id, ClusterSummary.num_queries).where(
                    ClusterSummary.summary_run_id == summary_run_id
                )
            ).all()
        )


def cached_answers(
    db: DatabaseManager, hashes: list[str], since: datetime | None = None
) -> dict[str, LLMResponse]:
    """The cached answers of ``hashes`` (those cached at ``since`` or later, when given)."""
    found: dict[str, LLMResponse] = {}
    with db.get_session() as session:
        for start in range(0, len(hashes), 1_000):
            chunk = hashes[start : start + 1_000]
            query = select(LLMResponse).where(LLMResponse.prompt_hash.in_(chunk))
            if since is not None:
                query = query.where(LLMResponse.created_at >= since)
            found.update((r.prompt_hash, r) for r in session.execute(query).scalars())
    return found


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


def store_answer(
    session: Session,
    prompt_hash: str,
    model: str,
    response: dict,
    tokens_in: int,
    tokens_out: int,
    replace_before: datetime | None = None,
) -> None:
    """Caches a validated answer under the hash of its exact request: once, or in place of
    an answer cached before ``replace_before`` (a run asking afresh)."""
    cached = session.get(LLMResponse, prompt_hash)
    if cached is not None and (replace_before is None or cached.created_at >= replace_before):
        return
    if cached is not None:
        session.delete(cached)
        session.flush()
    session.add(
        LLMResponse(
            prompt_hash=prompt_hash,
            model=model,
            response=response,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )
    )


def finish(
    db: DatabaseManager,
    summary_run_id: str,
    params: SummaryParams,
    *,
    clusters_total: int,
    seconds: float,
    accuracy: tuple[float | None, int | None],
    nothing_labelled: bool = False,
) -> SummaryRun:
    """Closes the ledger entry: status (``failed`` when clusters were asked for and none got
    a label), seconds, the estimated cost of all tokens spent (0 offline, None when the model's
    price is not known) and label quality."""
    with db.get_session() as session:
        entry = session.get(SummaryRun, summary_run_id)
        entry.clusters_total = clusters_total
        if entry.clusters_done == clusters_total:
            entry.status = "completed"
        else:
            entry.status = "failed" if nothing_labelled else "partial"
        entry.label_accuracy, entry.label_accuracy_queries = accuracy
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


def close_entry(session: Session, entry, params, seconds: float):
    """Adds ``seconds`` to a ledger entry, prices all its tokens (0 offline, None when the
    model's price is not known), stamps ``finished_at`` and commits; returns it detached."""
    entry.seconds = round(entry.seconds + seconds, 3)
    entry.estimated_cost_usd = (
        0.0
        if params.is_offline
        else estimate_cost(
            params.model,
            entry.tokens_in,
            entry.tokens_out,
            (params.price_in_per_mtok, params.price_out_per_mtok),
        )
    )
    entry.finished_at = utc_now()
    session.add(entry)
    session.commit()
    session.refresh(entry)
    session.expunge(entry)
    return entry
