"""The one way a summary run starts (``labeling/alias_run.py``'s pattern): validate, resolve
the server, check the carry source, register in the ledger.

``prepare_summary`` is called by the ``lmsys summarize`` command and by the
``cluster_summaries`` asset alike (through ``defs/summarizing/alias_run.py``, which also adds
the Dagster partitions). Called again with the ``entry_id`` it returned, it continues that
summary run instead of deciding anew, so the CLI's check and the asset's run agree.
"""

from dataclasses import dataclass
from typing import Any

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.labeling.alias_run import (
    Prepared,
    check_target,
    layered_params,
    open_entry,
    with_endpoint,
)
from lmsys_pipeline.labeling.ledger import last_parameters
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.carry import carry_source
from lmsys_pipeline.summarizing.ledger import SUMMARY_LEDGER
from lmsys_pipeline.summarizing.params import SummaryParams, default_model

OPTION_NAMES = {"timeout_s": "--timeout", "max_queries": "--max-queries"}


@dataclass(frozen=True)
class PreparedSummary(Prepared[SummaryParams]):
    @property
    def summary_run_id(self) -> str:
        return self.entry_id


def summary_params(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
) -> SummaryParams:
    """The alias's last outcome parameters (so a re-run resumes it) or the defaults, the
    server's throughput settings, and the given overrides (None: not given) on top."""
    base = last_parameters(db, SUMMARY_LEDGER, run_id, alias)
    if base is None:
        base = {"model": default_model()}
    return layered_params(SummaryParams, base, throughput, overrides, OPTION_NAMES)


def prepare_summary(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
    *,
    api_key: str | None = None,
    restart: bool = False,
    entry_id: str | None = None,
) -> PreparedSummary:
    """Checks everything a summary run needs before anything is asked of a model, then starts
    or resumes its ledger entry (``entry_id``: continue exactly that summary run)."""
    check_target(db, run_id, alias)
    params = summary_params(db, run_id, alias, overrides, throughput)
    params, endpoint = with_endpoint(params, api_key)
    if params.carry_from is not None:
        carry_source(db, run_id, params.carry_from)
    started = open_entry(
        db, SUMMARY_LEDGER, run_id, alias, params, restart=restart, entry_id=entry_id
    )
    return PreparedSummary(run_id, alias, params, endpoint, started)
