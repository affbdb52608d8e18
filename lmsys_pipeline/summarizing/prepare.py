"""The one way a summary run starts: validate, resolve the server, register in the ledger.

``prepare_summary`` is called by the ``lmsys summarize`` command and by the
``cluster_summaries`` asset alike (through ``defs/summarizing/prepare.py``, which also adds the
Dagster partitions). Called again with the ``summary_run_id`` it returned, it continues that
summary run instead of deciding anew, so the CLI's check and the asset's run agree.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lmsys_pipeline.clustering.runs import load_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.errors import settings_error
from lmsys_pipeline.summarizing.carry import carry_source
from lmsys_pipeline.summarizing.ledger import (
    Started,
    live_entries,
    resume_summary_run,
    start_summary_run,
)
from lmsys_pipeline.summarizing.params import (
    SummaryInputError,
    SummaryParams,
    ThroughputSettings,
    check_alias,
    default_model,
)
from lmsys_pipeline.summarizing.providers import Endpoint, resolve_endpoint

OPTION_NAMES = {"timeout_s": "--timeout", "max_queries": "--max-queries"}


@dataclass(frozen=True)
class PreparedSummary:
    run_id: str
    alias: str
    params: SummaryParams
    endpoint: Endpoint | None  # None: the offline keyword summarizer
    started: Started

    @property
    def summary_run_id(self) -> str:
        return self.started.summary_run_id


def summary_params(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
) -> SummaryParams:
    """The alias's last outcome parameters (so a re-run resumes it) or the defaults, the
    server's throughput settings, and the given overrides (None: not given) on top."""
    with db.get_session() as session:
        entry = session.execute(live_entries(run_id, alias).limit(1)).scalars().first()
    return layered_params(
        SummaryParams,
        entry.parameters if entry is not None else {"model": default_model()},
        throughput,
        overrides,
        OPTION_NAMES,
    )


P = TypeVar("P", bound=BaseModel)


def with_endpoint(params: P, api_key: str | None) -> tuple[P, Endpoint | None]:
    """The server of ``params.model`` (None offline), its URL recorded in the parameters; a
    missing key fails here, before anything is written."""
    if params.is_offline:
        return params, None
    endpoint = resolve_endpoint(params.model, params.base_url, api_key=api_key)
    return params.model_copy(update={"base_url": endpoint.base_url}), endpoint


def layered_params(
    params_type: type[P],
    base: dict[str, Any],
    throughput: ThroughputSettings,
    overrides: dict[str, Any],
    option_names: dict[str, str],
) -> P:
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


def prepare_summary(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
    *,
    api_key: str | None = None,
    restart: bool = False,
    summary_run_id: str | None = None,
) -> PreparedSummary:
    """Checks everything a summary run needs before anything is asked of a model, then starts
    or resumes its ledger entry (``summary_run_id``: continue exactly that one)."""
    check_alias(alias)
    load_run(db, run_id)
    params = summary_params(db, run_id, alias, overrides, throughput)
    params, endpoint = with_endpoint(params, api_key)
    if params.carry_from is not None:
        carry_source(db, run_id, params.carry_from)
    if summary_run_id is not None:
        started = resume_summary_run(db, summary_run_id, run_id, alias, params)
    else:
        started = start_summary_run(db, run_id, alias, params, restart=restart)
    return PreparedSummary(run_id, alias, params, endpoint, started)


__all__ = ["PreparedSummary", "SummaryInputError", "prepare_summary", "summary_params"]
