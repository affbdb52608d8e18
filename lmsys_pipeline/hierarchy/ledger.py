"""The hierarchy-run ledger, its answers and its tree.

Starting an alias's hierarchy either resumes its hierarchy run (same summary run, outcome
parameters and prompt version) or starts a new one and marks the alias's older ones
``replaced`` (``labeling/ledger.py``, with ``HIERARCHY_LEDGER``). Every answer is committed on
its own as it arrives, with the ledger's counters (``record_answer``), so a killed run loses at
most the requests in flight; a resumed run rebuilds the tree from those answers (served from
``llm_responses``) and asks only for the rest. The tree itself is written whole, in one
transaction that also removes the alias's previous tree, so readers see the old tree or the new
one, never half of one. ``restart`` asks the model again, as for summary runs: only answers
cached since the run started are used, and its answers replace older ones.
"""

from datetime import datetime

from sqlalchemy import delete, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.hierarchy import ClusterHierarchy, HierarchyRun
from lmsys_pipeline.db.models import utc_now
from lmsys_pipeline.hierarchy.params import (
    HierarchyInputError,
    HierarchyParams,
    new_hierarchy_run_id,
)
from lmsys_pipeline.hierarchy.tree import Node
from lmsys_pipeline.labeling.cache import store_answer
from lmsys_pipeline.labeling.lease import HIERARCHY
from lmsys_pipeline.labeling.ledger import LedgerKind, close_entry
from lmsys_pipeline.labeling.llm import Outcome
from lmsys_pipeline.labeling.measures import LABEL_MEASURES

# A resumed hierarchy run asks every failed step again (or finds its answer in the cache).
HIERARCHY_LEDGER = LedgerKind(
    name=HIERARCHY,
    table=HierarchyRun,
    new_id=new_hierarchy_run_id,
    error=HierarchyInputError,
    resumes="the alias's hierarchy",
    forgets_failures=True,
)


def record_answer(
    db: DatabaseManager,
    hierarchy_run_id: str,
    model: str,
    outcome: Outcome,
    step: str,
    fresh_since: datetime | None = None,
) -> None:
    """One answered (or failed) request: its cached answer (replacing one cached before
    ``fresh_since``) and the ledger's counters."""
    with db.get_session() as session:
        entry = session.get(HierarchyRun, hierarchy_run_id)
        entry.requests += outcome.requests
        entry.tokens_in += outcome.tokens_in
        entry.tokens_out += outcome.tokens_out
        failures = dict(entry.failures or {})
        if outcome.answer is None:
            failures[step] = outcome.error or "unknown error"
        else:
            failures.pop(step, None)
            store_answer(
                session,
                outcome.job.prompt_hash,
                model,
                outcome.answer.model_dump(),
                outcome.tokens_in,
                outcome.tokens_out,
                replace_before=fresh_since,
            )
        entry.failures = failures
        session.add(entry)
        session.commit()


def record_progress(
    db: DatabaseManager,
    hierarchy_run_id: str,
    *,
    cached: int = 0,
    failures: dict[str, str] | None = None,
    level_sizes: list[int] | None = None,
) -> None:
    with db.get_session() as session:
        entry = session.get(HierarchyRun, hierarchy_run_id)
        entry.cached_responses += cached
        if failures:
            entry.failures = {**(entry.failures or {}), **failures}
        if level_sizes is not None:
            entry.level_sizes = level_sizes
            entry.levels = len(level_sizes) - 1
        session.add(entry)
        session.commit()


def save_tree(db: DatabaseManager, entry_id: str, run_id: str, alias: str, nodes: list[Node]):
    """Replaces the alias's tree on ``run_id`` with ``nodes``, in one transaction."""
    with db.get_session() as session:
        ids = session.execute(
            select(HierarchyRun.hierarchy_run_id).where(
                HierarchyRun.run_id == run_id, HierarchyRun.alias == alias
            )
        ).scalars()
        session.execute(
            delete(ClusterHierarchy).where(ClusterHierarchy.hierarchy_run_id.in_(list(ids)))
        )
        now = utc_now()
        session.add_all(
            ClusterHierarchy(
                run_id=run_id,
                hierarchy_run_id=entry_id,
                cluster_id=node.node_id,
                parent_cluster_id=node.parent,
                level=node.level,
                children_ids=list(node.children),
                title=node.title,
                description=node.description,
                created_at=now,
            )
            for node in nodes
        )
        session.commit()


def finish(
    db: DatabaseManager,
    hierarchy_run_id: str,
    params: HierarchyParams,
    *,
    clusters_total: int,
    top_size: int,
    orphans: int,
    seconds: float,
    measures: dict | None = None,
) -> HierarchyRun:
    """Closes the ledger entry: ``completed``, or ``partial`` when a request failed; the
    parents' label ``measures`` go into its parameters."""
    with db.get_session() as session:
        entry = session.get(HierarchyRun, hierarchy_run_id)
        if measures is not None:
            entry.parameters = {**(entry.parameters or {}), LABEL_MEASURES: measures}
        entry.clusters_total = clusters_total
        entry.top_size = top_size
        entry.orphans = orphans
        entry.status = "partial" if entry.failures else "completed"
        return close_entry(session, entry, params, seconds)


def fail(
    db: DatabaseManager, hierarchy_run_id: str, params: HierarchyParams, seconds: float
) -> None:
    """A run stopped by an error the user must fix (a rejected key, every request failed)."""
    with db.get_session() as session:
        entry = session.get(HierarchyRun, hierarchy_run_id)
        entry.status = "failed"
        close_entry(session, entry, params, seconds)
