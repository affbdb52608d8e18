"""The ledger of an alias run (``summary_runs``, ``hierarchy_runs``): starting, resuming and
closing its entry, the same for every kind.

Starting an alias on a clustering run either resumes its newest entry (same prompt version,
outcome parameters and links, such as the summary run a hierarchy builds on: only what is not
done yet is asked for) or starts a new entry that replaces the alias's older ones. Named by
its id (the one the CLI prepared), an entry is continued exactly, or refused in one sentence.

``restart`` means "ask the model again": the new entry is marked ``fresh_answers`` and,
resumed or not, takes from the answer cache (``cache.py``) only answers cached since it
started (``Started.fresh_since``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import utc_now
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.labeling.settings import RunParams

ID_ATTEMPTS = 5
T = TypeVar("T")
# In a ledger entry's parameters: true when it was started with restart (ask again).
FRESH = "fresh_answers"


@dataclass(frozen=True)
class LedgerKind:
    """What tells one ledger from the other; summarizing and hierarchy each define one.
    ``on_new(session, run_id, alias)`` runs in the transaction that starts a new entry (not
    when one resumes)."""

    name: str  # "summary", "hierarchy": the lease's kind, and "<name> run" in messages
    table: Any  # the ledger table, keyed by ``<name>_run_id``
    new_id: Callable[[str, set[str]], str]  # (model, ids taken) → a new entry's id
    error: type[UserError]  # an entry named by id that cannot be continued
    resumes: str = "the alias"  # what leaving the id out starts or resumes, in that sentence
    kept: tuple[str, ...] = (FRESH,)  # parameters a resumed entry keeps from before
    forgets_failures: bool = False  # a resumed entry's failures are all asked again
    on_new: Callable[[Session, str, str], None] | None = None

    @property
    def key(self) -> str:
        return f"{self.name}_run_id"


@dataclass(frozen=True)
class Started:
    """``fresh_since``: set when the entry was started with ``restart``; cached answers older
    than it are not used."""

    entry_id: str
    resumed: bool
    replaced: list[str]
    fresh_since: datetime | None = None


def live_entries(kind: LedgerKind, run_id: str, alias: str):
    """The alias's entries on ``run_id`` that were not replaced, newest first."""
    table = kind.table
    return (
        select(table)
        .where(table.run_id == run_id, table.alias == alias, table.status != "replaced")
        .order_by(table.created_at.desc())
    )


def last_parameters(
    db: DatabaseManager, kind: LedgerKind, run_id: str, alias: str
) -> dict[str, Any] | None:
    """The parameters of the alias's newest live entry on ``run_id`` (None: it has none)."""
    with db.get_session() as session:
        entry = session.execute(live_entries(kind, run_id, alias).limit(1)).scalars().first()
    return dict(entry.parameters) if entry is not None else None


def fresh_since(entry) -> datetime | None:
    """When an entry started with restart began (its cache horizon), else None."""
    return entry.created_at if (entry.parameters or {}).get(FRESH) else None


def with_free_id(start: Callable[[], T], what: str) -> T:
    """Runs ``start`` (which picks a new run id and inserts it) until its id is free: another
    run may take the same id in the same second, and the primary key refuses the second."""
    for _ in range(ID_ATTEMPTS):
        try:
            return start()
        except IntegrityError:
            continue
    raise RuntimeError(f"Could not pick a free id for {what}.")


def _resumable(entry, params: RunParams, links: dict[str, Any]) -> bool:
    stored = {k: entry.parameters.get(k) for k in params.outcome()}
    return (
        entry.prompt_version == params.PROMPT_VERSION
        and stored == params.outcome()
        and all(getattr(entry, column) == value for column, value in links.items())
    )


def _reopen(session: Session, kind: LedgerKind, entry, params: RunParams) -> Started:
    old = entry.parameters or {}
    entry.parameters = {**params.stored(), **{k: old[k] for k in kind.kept if old.get(k)}}
    entry.status = "running"
    if kind.forgets_failures:
        entry.failures = {}
    session.add(entry)
    session.commit()
    return Started(getattr(entry, kind.key), True, [], fresh_since(entry))


def start_entry(
    db: DatabaseManager,
    kind: LedgerKind,
    run_id: str,
    alias: str,
    params: RunParams,
    *,
    restart: bool = False,
    links: dict[str, Any] | None = None,
) -> Started:
    """Resumes the alias's newest entry when it can (never with ``restart``), else starts a
    new one that replaces the alias's others. ``links``: columns of the entry that must match
    for it to be resumed (and that a new entry gets)."""
    links = links or {}
    key = getattr(kind.table, kind.key)

    def start() -> Started:
        with db.get_session() as session:
            entries = session.execute(live_entries(kind, run_id, alias)).scalars().all()
            current = entries[0] if entries else None
            if current is not None and not restart and _resumable(current, params, links):
                return _reopen(session, kind, current, params)
            existing = set(session.execute(select(key)).scalars())
            entry_id = kind.new_id(params.model, existing)
            replaced = [getattr(entry, kind.key) for entry in entries]
            if kind.on_new is not None:
                kind.on_new(session, run_id, alias)
            if replaced:
                session.execute(
                    update(kind.table).where(key.in_(replaced)).values(status="replaced")
                )
            entry = kind.table(
                **{kind.key: entry_id},
                run_id=run_id,
                alias=alias,
                model=params.model,
                parameters={**params.stored(), **({FRESH: True} if restart else {})},
                prompt_version=params.PROMPT_VERSION,
                **links,
            )
            session.add(entry)
            session.commit()
            return Started(entry_id, False, replaced, fresh_since(entry))

    return with_free_id(start, f"a {kind.name} run of {alias} on {run_id}")


def resume_entry(
    db: DatabaseManager,
    kind: LedgerKind,
    entry_id: str,
    run_id: str,
    alias: str,
    params: RunParams,
    *,
    links: dict[str, Any] | None = None,
) -> Started:
    """Continues the named entry of ``alias`` on ``run_id`` (the one the CLI prepared)."""
    with db.get_session() as session:
        entry = session.get(kind.table, entry_id)
        if entry is None or (entry.run_id, entry.alias) != (run_id, alias):
            raise kind.error(
                f"{entry_id} is not a {kind.name} run of alias {alias} on {run_id}: leave "
                f"{kind.key} out to start or resume {kind.resumes}."
            )
        if entry.status == "replaced" or not _resumable(entry, params, links or {}):
            raise kind.error(
                f"{entry_id} was replaced or made with other settings: leave {kind.key} out "
                f"to start a new {kind.name} run."
            )
        return _reopen(session, kind, entry, params)


def close_entry(session: Session, entry, params: RunParams, seconds: float):
    """Adds ``seconds`` to a ledger entry, prices all its tokens (0 offline, None when the
    model's price is not known), stamps ``finished_at`` and commits; returns it detached."""
    entry.seconds = round(entry.seconds + seconds, 3)
    entry.estimated_cost_usd = params.cost(entry.tokens_in, entry.tokens_out)
    entry.finished_at = utc_now()
    session.add(entry)
    session.commit()
    session.refresh(entry)
    session.expunge(entry)
    return entry
