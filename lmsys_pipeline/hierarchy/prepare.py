"""The one way a hierarchy run starts: validate, find the summary run it builds on, resolve the
server, register in the ledger.

``prepare_hierarchy`` is called by ``lmsys merge-clusters`` and by the ``cluster_hierarchy``
asset alike (through ``defs/hierarchy/prepare.py``, which also adds the Dagster partitions).
Called again with the ``hierarchy_run_id`` it returned, it continues that run.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from lmsys_pipeline.clustering.runs import load_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, QueryCluster
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.hierarchy.ledger import (
    StartedHierarchy,
    live_hierarchies,
    resume_hierarchy_run,
    start_hierarchy_run,
)
from lmsys_pipeline.hierarchy.params import HierarchyInputError, HierarchyParams, level_targets
from lmsys_pipeline.summarizing.ledger import live_entries
from lmsys_pipeline.summarizing.params import ThroughputSettings, check_alias
from lmsys_pipeline.summarizing.prepare import layered_params, with_endpoint
from lmsys_pipeline.summarizing.providers import Endpoint

OPTION_NAMES = {"timeout_s": "--timeout", "top": "--top", "levels": "--levels"}
SHAPE_FIELDS = ("levels", "top")


@dataclass(frozen=True)
class PreparedHierarchy:
    run_id: str
    alias: str
    summary_run_id: str
    params: HierarchyParams
    endpoint: Endpoint | None  # None: the offline baseline
    started: StartedHierarchy
    targets: list[int]

    @property
    def hierarchy_run_id(self) -> str:
        return self.started.hierarchy_run_id


def alias_summary_run(db: DatabaseManager, run_id: str, alias: str) -> SummaryRun:
    """The alias's current summary run on ``run_id``; it must have labelled every cluster."""
    with db.get_session() as session:
        entry = session.execute(live_entries(run_id, alias).limit(1)).scalars().first()
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
    with db.get_session() as session:
        entry = session.execute(live_hierarchies(run_id, alias).limit(1)).scalars().first()
    base = dict(entry.parameters) if entry is not None else {}
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
    hierarchy_run_id: str | None = None,
) -> PreparedHierarchy:
    """Checks everything a hierarchy run needs before anything is asked of a model, then
    starts or resumes its ledger entry (``hierarchy_run_id``: continue exactly that one)."""
    check_alias(alias)
    load_run(db, run_id)
    summary = alias_summary_run(db, run_id, alias)
    params = hierarchy_params(db, run_id, alias, overrides, throughput)
    targets = level_targets(real_cluster_count(db, run_id), params)
    params, endpoint = with_endpoint(params, api_key)
    if hierarchy_run_id is not None:
        started = resume_hierarchy_run(
            db, hierarchy_run_id, run_id, alias, summary.summary_run_id, params
        )
    else:
        started = start_hierarchy_run(
            db, run_id, alias, summary.summary_run_id, params, restart=restart
        )
    return PreparedHierarchy(
        run_id, alias, summary.summary_run_id, params, endpoint, started, targets
    )
