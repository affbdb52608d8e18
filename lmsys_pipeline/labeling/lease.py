"""One process at a time per alias: a lease row in the database.

Two ``lmsys summarize`` of one alias started together used to resume the same summary run and
pay for every cluster twice. A summary run (and a hierarchy run) now holds a lease on its
(kind, clustering run, alias) from before it decides to start or resume until its ledger row is
closed; a second process that finds the lease held refuses at once, in one sentence naming the
holder, and asks for nothing.

Why a row in the database: the database is the one thing every process of a deployment shares
(the CLI, ``dagster dev``, run workers on other machines against one PostgreSQL), and the same
INSERT, or UPDATE conditional on the holder, claims the row on SQLite and PostgreSQL alike.
PostgreSQL advisory locks would need a connection held open for hours and a second mechanism
on SQLite (file locks hold on one host only). The holder renews the lease every
``RENEW_SECONDS`` from a background thread; a holder that dies stops renewing and its lease
lapses after ``LEASE_SECONDS`` (clocks of the hosts are assumed to agree within seconds). In
the same place (host name and process namespace: two containers sharing a host name cannot see
each other's processes) a claimer need not wait for that: when the holder's process is gone, it
takes the lease over at once, so running the same command again right after a kill resumes it.

Within one process the lease is re-entrant: the CLI takes it before it prepares the run, and
the asset, executed in the same process, takes it again.
"""

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import utc_now
from lmsys_pipeline.db.summaries import AliasLease
from lmsys_pipeline.errors import UserError

LEASE_SECONDS = 120.0
RENEW_SECONDS = 20.0
CLAIM_ATTEMPTS = 5
SUMMARY = "summary"
HIERARCHY = "hierarchy"
SUBJECT = {SUMMARY: "Alias {alias} on {run_id}", HIERARCHY: "The hierarchy of {alias} on {run_id}"}
DOING = {SUMMARY: "summarized", HIERARCHY: "built"}


class AliasBusy(UserError):
    """Another process is working on the alias (or took over this one's lease)."""


@dataclass
class Holder:
    """This process's hold on one lease; ``lost`` when another process took it over."""

    owner: str
    depth: int = 1
    lost: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


_held: dict[tuple[str, str, str, str], Holder] = {}
_guard = threading.Lock()
_token: tuple[int, str] | None = None


def place() -> str:
    """Where this process can see others: the host name and the process namespace."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()}/{namespace}"


def this_owner() -> str:
    """``<place> <pid> <token>``, new in a forked child."""
    global _token
    if _token is None or _token[0] != os.getpid():
        _token = (os.getpid(), uuid.uuid4().hex[:12])
    return f"{place()} {os.getpid()} {_token[1]}"


def _gone_here(owner: str, pid: int) -> bool:
    """Whether ``owner`` ran in this place and its process ``pid`` has ended."""
    return owner.rsplit(" ", 2)[0] == place() and process_gone(pid)


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` of this host has ended (a zombie has); False when unsure."""
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _where(kind: str, run_id: str, alias: str) -> tuple:
    return (AliasLease.kind == kind, AliasLease.run_id == run_id, AliasLease.alias == alias)


def _busy(kind: str, run_id: str, alias: str, holder) -> AliasBusy:
    since = holder.acquired_at.strftime("%Y-%m-%d %H:%M:%S")
    subject = SUBJECT[kind].format(alias=alias, run_id=run_id)
    return AliasBusy(
        f"{subject} is being {DOING[kind]} by another process (pid "
        f"{holder.pid} on {holder.host}, since {since} UTC): wait for it to finish, then run "
        "the same command again."
    )


def claim(db: DatabaseManager, kind: str, run_id: str, alias: str, owner: str) -> None:
    """Takes the lease for ``owner``: free, already ``owner``'s, lapsed, or held by a process
    of this place that is gone; ``AliasBusy`` naming the holder otherwise."""
    host, pid = socket.gethostname(), os.getpid()
    where = _where(kind, run_id, alias)
    for _ in range(CLAIM_ATTEMPTS):
        now = utc_now()
        values = {
            "owner": owner,
            "host": host,
            "pid": pid,
            "acquired_at": now,
            "expires_at": now + timedelta(seconds=LEASE_SECONDS),
        }
        try:
            with db.engine.begin() as connection:
                connection.execute(
                    insert(AliasLease).values(kind=kind, run_id=run_id, alias=alias, **values)
                )
            return
        except IntegrityError:
            pass
        with db.engine.connect() as connection:
            holder = connection.execute(select(AliasLease).where(*where)).first()
        if holder is None:
            continue  # released in between: insert again
        free = (
            holder.owner == owner or holder.expires_at < now or _gone_here(holder.owner, holder.pid)
        )
        if not free:
            raise _busy(kind, run_id, alias, holder)
        with db.engine.begin() as connection:
            taken = connection.execute(
                update(AliasLease).where(*where, AliasLease.owner == holder.owner).values(**values)
            ).rowcount
        if taken == 1:
            return
    subject = SUBJECT[kind].format(alias=alias, run_id=run_id)
    raise AliasBusy(
        f"{subject} is being claimed by other processes right now: run the same command again."
    )


def renew(db: DatabaseManager, where: tuple, holder: Holder) -> None:
    """Extends the lease by ``LEASE_SECONDS``; marks ``holder`` lost when another process has
    taken the lease over. A database that cannot be reached now is tried again next time."""
    try:
        with db.engine.begin() as connection:
            renewed = connection.execute(
                update(AliasLease)
                .where(*where, AliasLease.owner == holder.owner)
                .values(expires_at=utc_now() + timedelta(seconds=LEASE_SECONDS))
            ).rowcount
    except SQLAlchemyError:
        return
    if renewed == 0:
        holder.lost = True


def _keep_renewing(db: DatabaseManager, where: tuple, holder: Holder) -> None:
    while not holder.stop.wait(RENEW_SECONDS) and not holder.lost:
        renew(db, where, holder)


def release(db: DatabaseManager, kind: str, run_id: str, alias: str, owner: str) -> None:
    """Gives the lease up (when ``owner`` still holds it). A database that cannot be reached
    now is left alone: the lease lapses by itself."""
    try:
        with db.engine.begin() as connection:
            connection.execute(
                delete(AliasLease).where(*_where(kind, run_id, alias), AliasLease.owner == owner)
            )
    except SQLAlchemyError:
        pass


@contextmanager
def alias_lease(db: DatabaseManager, kind: str, run_id: str, alias: str) -> Iterator[Holder]:
    """Holds the lease of ``kind`` on (``run_id``, ``alias``) for the block, renewing it;
    re-entrant within a process. ``AliasBusy`` when another process holds it."""
    key = (db.url, kind, run_id, alias)
    with _guard:
        holder = _held.get(key)
        if holder is not None:
            holder.depth += 1
    if holder is None:
        owner = this_owner()
        claim(db, kind, run_id, alias, owner)
        holder = Holder(owner)
        threading.Thread(
            target=_keep_renewing,
            args=(db, _where(kind, run_id, alias), holder),
            name=f"lease-{kind}-{alias}",
            daemon=True,
        ).start()
        with _guard:
            _held[key] = holder
    try:
        yield holder
    finally:
        with _guard:
            holder.depth -= 1
            last = holder.depth == 0
            if last:
                del _held[key]
        if last:
            holder.stop.set()
            release(db, kind, run_id, alias, holder.owner)


def check_held(db: DatabaseManager, kind: str, run_id: str, alias: str) -> None:
    """``AliasBusy`` when this process held the lease and another took it over (this one
    stopped renewing it: suspended, or cut off from the database, for ``LEASE_SECONDS``)."""
    holder = _held.get((db.url, kind, run_id, alias))
    if holder is not None and holder.lost:
        subject = SUBJECT[kind].format(alias=alias, run_id=run_id)
        raise AliasBusy(
            f"{subject} was taken over by another process while it was being {DOING[kind]} "
            "here (this process had stopped renewing its lease): let that one finish, then "
            "run the same command again."
        )
