"""Clustering runs registered but never materialized: what a stopped ``lmsys cluster`` leaves.

Run again, the same command takes such a run up instead of registering another beside it.
This is the database's half of that choice; whether a live process is still working on a run
is known only to the Dagster instance and this machine (``run_claims.py``).
"""

from sqlalchemy import func, select

from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.clustering.registry import parse_stored
from lmsys_pipeline.clustering.runs import check_feasible
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, Query


def never_materialized(parameters: dict) -> bool:
    """Materializing records ``n_queries`` and a status; a registered run has neither."""
    return "n_queries" not in parameters and "status" not in parameters


def unfinished_runs(
    db: DatabaseManager, params: ClusteringParams, description: str | None
) -> list[ClusteringRun]:
    """Never-materialized runs registered with ``params`` (as sized for today's data) and
    ``description``, oldest first."""
    with db.get_session() as session:
        rows = (
            session.execute(
                select(ClusteringRun)
                .where(ClusteringRun.algorithm == params.algorithm)
                .order_by(ClusteringRun.created_at, ClusteringRun.run_id)
            )
            .scalars()
            .all()
        )
    candidates = [
        run
        for run in rows
        if never_materialized(run.parameters or {}) and run.description == description
    ]
    if not candidates:
        return []
    sized = check_feasible(db, params)
    return [run for run in candidates if _recorded_with(run, sized)]


def _recorded_with(run: ClusteringRun, params: ClusteringParams) -> bool:
    try:
        return parse_stored(run.parameters or {}) == params
    except ValueError:  # parameters of a shape this version cannot read: not this command's
        return False


def take_up(db: DatabaseManager, run_id: str) -> ClusteringRun:
    """The run, its data snapshot moved to now: it was never materialized, so no result
    depends on the old one, and the command run again clusters the data as it is now."""
    with db.get_session() as session:
        run = session.get(ClusteringRun, run_id)
        latest = session.execute(select(func.max(Query.id))).scalar_one()
        run.parameters = {**(run.parameters or {}), "max_query_id": latest}
        session.add(run)
        session.commit()
        session.refresh(run)
        return run
