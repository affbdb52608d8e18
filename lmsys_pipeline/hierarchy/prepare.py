"""The one way a hierarchy run starts (``labeling/alias_run.py``'s pattern): validate, find the
summary run it builds on, resolve the server, register in the ledger.

``prepare_hierarchy`` is called by ``lmsys merge-clusters`` and by the ``cluster_hierarchy``
asset alike (through ``defs/summarizing/alias_run.py``, which also adds the Dagster
partitions). Called again with the ``entry_id`` it returned, it continues that run.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, QueryCluster
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.hierarchy.ledger import HIERARCHY_LEDGER
from lmsys_pipeline.hierarchy.params import HierarchyInputError, HierarchyParams, level_targets
from lmsys_pipeline.labeling.alias_run import (
    Prepared,
    check_target,
    layered_params,
    open_entry,
    with_endpoint,
)
from lmsys_pipeline.labeling.ledger import last_parameters, live_entries
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.ledger import SUMMARY_LEDGER

OPTION_NAMES = {"timeout_s": "--timeout", "top": "--top", "levels": "--levels"}
SHAPE_FIELDS = ("levels", "top")


@dataclass(frozen=True)
class PreparedHierarchy(Prepared[HierarchyParams]):
    summary_run_id: str
    targets: list[int]

    @property
    def hierarchy_run_id(self) -> str:
        return self.entry_id


def alias_summary_run(db: DatabaseManager, run_id: str, alias: str) -> SummaryRun:
    """The alias's current summary run on ``run_id``; it must have labelled every cluster."""
    with db.get_session() as session:
        query = live_entries(SUMMARY_LEDGER, run_id, alias).limit(1)
        entry = session.execute(query).scalars().first()
    if entry is None:
        raise HierarchyInputError(
            f"Clustering run {run_id} has no summary run with alias {alias}: run lmsys "
            f"summarize {run_id} --alias {alias} first."
        )
    if entry.status != "completed":
        raise HierarchyInputError(
            f"Summary run {entry.summary_run_id} (alias {alias}) is {entry.status}, not "
            f"completed: run lmsys summarize {run_id} --alias {alias} again to finish it first."
        )
    return entry


def real_cluster_count(db: DatabaseManager, run_id: str) -> int:
    with db.engine.connect() as connection:
        return connection.execute(
            select(func.count(func.distinct(QueryCluster.cluster_id))).where(
                QueryCluster.run_id == run_id, QueryCluster.cluster_id != NOISE
            )
        ).scalar_one()


def hierarchy_params(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
) -> HierarchyParams:
    """The alias's last parameters (so a re-run resumes it) or the defaults, the server's
    throughput, the given overrides on top. Giving --levels or --top replaces both."""
    base = last_parameters(db, HIERARCHY_LEDGER, run_id, alias) or {}
    if any(overrides.get(name) is not None for name in SHAPE_FIELDS):
        base = {k: v for k, v in base.items() if k not in SHAPE_FIELDS}
    return layered_params(HierarchyParams, base, throughput, overrides, OPTION_NAMES)


def prepare_hierarchy(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    throughput: ThroughputSettings,
    *,
    api_key: str | None = None,
    restart: bool = False,
    entry_id: str | None = None,
) -> PreparedHierarchy:
    """Checks everything a hierarchy run needs before anything is asked of a model, then
    starts or resumes its ledger entry (``entry_id``: continue exactly that one)."""
    check_target(db, run_id, alias)
    summary_run_id = alias_summary_run(db, run_id, alias).summary_run_id
    params = hierarchy_params(db, run_id, alias, overrides, throughput)
    targets = level_targets(real_cluster_count(db, run_id), params)
    params, endpoint = with_endpoint(params, api_key)
    started = open_entry(
        db,
        HIERARCHY_LEDGER,
        run_id,
        alias,
        params,
        restart=restart,
        entry_id=entry_id,
        links={"summary_run_id": summary_run_id},
    )
    return PreparedHierarchy(run_id, alias, params, endpoint, started, summary_run_id, targets)
