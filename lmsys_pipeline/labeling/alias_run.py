"""One pattern for every alias run (a summary run, a hierarchy run of one alias on one
clustering run), in four steps; each side defines an ``AliasRunKind`` with what differs.

1. Lease: one process at a time per (kind, clustering run, alias) (``lease.py``), taken by
   the CLI before it prepares and again, re-entrantly, by the asset.
2. Prepare (the side's ``prepare``, built from ``check_target``, ``layered_params``,
   ``with_endpoint`` and ``open_entry``): the alias and the clustering run checked,
   the parameters layered (the alias's last ones, so a re-run resumes; the server's
   throughput; the overrides given), the server resolved (a missing key fails before anything
   is written), the ledger entry started or resumed. Called again with the entry's id it
   continues exactly that entry, so the CLI's check and the asset's run agree.
3. Run (the side's ``run``): the work, every answer committed as it comes (``check_held``
   first), the ledger entry closed whatever stops it.
4. Report: the ledger row; the CLI prints its ``fields`` under ``heading``.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from lmsys_pipeline.clustering.runs import load_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.errors import settings_error
from lmsys_pipeline.labeling.lease import Holder, alias_lease
from lmsys_pipeline.labeling.ledger import (
    LedgerKind,
    Started,
    resume_entry,
    start_entry,
)
from lmsys_pipeline.labeling.providers import Endpoint, resolve_endpoint
from lmsys_pipeline.labeling.settings import RunParams, ThroughputSettings, check_alias

P = TypeVar("P", bound=RunParams)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Prepared(Generic[P]):
    run_id: str
    alias: str
    params: P
    endpoint: Endpoint | None  # None: the offline baseline
    started: Started

    @property
    def entry_id(self) -> str:
        return self.started.entry_id


@dataclass(frozen=True)
class AliasRunKind:
    """What tells summary runs from hierarchy runs; each side defines one.

    ``prepare(db, run_id, alias, overrides, throughput, *, api_key, restart, entry_id)``
    returns a ``Prepared``; ``run(db, prepared, *, load_embedder, log, on_progress)`` a report
    with the closed ledger ``entry``. ``heading`` and ``failed`` are format strings over the
    ledger row's columns, with ``dagster_run_id`` and ``failed`` (how many failures)."""

    ledger: LedgerKind
    asset: str  # the Dagster asset of its (clustering run x alias) partitions
    prepare: Callable[..., Prepared]
    run: Callable[..., Any]
    fields: tuple[str, ...]  # the ledger columns a finished run is reported with
    heading: str
    failed: str

    def lease(self, db: DatabaseManager, run_id: str, alias: str) -> AbstractContextManager[Holder]:
        return alias_lease(db, self.ledger.name, run_id, alias)

    def heading_of(self, entry, dagster_run_id: str) -> str:
        return self.heading.format(**_columns(entry), dagster_run_id=dagster_run_id)

    def failed_of(self, entry) -> str:
        return self.failed.format(**_columns(entry), failed=len(entry.failures or {}))


def _columns(entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in type(entry).model_fields}


def check_target(db: DatabaseManager, run_id: str, alias: str) -> None:
    """The alias can name a partition and the clustering run exists."""
    check_alias(alias)
    load_run(db, run_id)


def layered_params(
    params_type: type[M],
    base: dict[str, Any],
    throughput: ThroughputSettings,
    overrides: dict[str, Any],
    option_names: dict[str, str],
) -> M:
    """``base`` (a previous run's stored parameters, so a re-run resumes it, or the defaults)
    without its throughput, then the server's ``throughput``, then the ``overrides`` that were
    given (None: not given); a bad value is one sentence naming the option."""
    kept = {
        k: v
        for k, v in base.items()
        if k in params_type.model_fields and k not in ThroughputSettings.model_fields
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return params_type(**{**kept, **throughput.model_dump(), **given})
    except ValidationError as error:
        raise settings_error(error, option_names) from None


def with_endpoint(params: P, api_key: str | None) -> tuple[P, Endpoint | None]:
    """The server of ``params.model`` (None offline), its URL recorded in the parameters; a
    missing key fails here, before anything is written."""
    if params.is_offline:
        return params, None
    endpoint = resolve_endpoint(params.model, params.base_url, api_key=api_key)
    return params.model_copy(update={"base_url": endpoint.base_url}), endpoint


def open_entry(
    db: DatabaseManager,
    kind: LedgerKind,
    run_id: str,
    alias: str,
    params: RunParams,
    *,
    restart: bool,
    entry_id: str | None,
    links: dict[str, Any] | None = None,
) -> Started:
    """Continues the entry ``entry_id`` when given, else starts or resumes the alias's."""
    if entry_id is not None:
        return resume_entry(db, kind, entry_id, run_id, alias, params, links=links)
    return start_entry(db, kind, run_id, alias, params, restart=restart, links=links)
