"""Re-clustering when the data has moved on, beside the cron schedule: a new run (the
schedule's parameters) is requested once the latest run's novel share or its count of
unassigned new queries crosses a threshold (``clustering/late.py``), once per latest run.

``LMSYS_RECLUSTER_NOVEL_SHARE`` (default 0.15: 1.5 times the ~10% of queries like the run's
own that the novelty quantile flags by chance; on the bundled sample an unseen topic making up
10% of the new queries lifts the share to 17.6%, RESULTS.md; counted once at least
``LMSYS_RECLUSTER_MIN_NEW`` = 500 queries were assigned after the fit) and
``LMSYS_RECLUSTER_UNASSIGNED`` (default 100,000 embedded queries newer than the run and not
yet assigned). Stopped by default, like the schedule.
"""

import os
from dataclasses import dataclass

import dagster as dg

from lmsys_pipeline.clustering.late import LateStatus, late_status
from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.defs.clustering.prepare import prepare_clustering_run
from lmsys_pipeline.defs.clustering.schedules import RECLUSTER_PARAMS, cluster_run_job
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.errors import UserError


@dataclass(frozen=True)
class Triggers:
    novel_share: float = 0.15
    min_new: int = 500
    unassigned: int = 100_000

    def reason(self, status: LateStatus) -> str | None:
        """Why ``status`` calls for a new run; None when it does not."""
        if status.assigned_after_fit >= self.min_new and status.novel_share >= self.novel_share:
            return (
                f"novel share {status.novel_share:.1%} of {status.assigned_after_fit:,} new "
                f"queries >= {self.novel_share:.0%}"
            )
        if status.unassigned >= self.unassigned:
            return f"{status.unassigned:,} unassigned new queries >= {self.unassigned:,}"
        return None


def triggers_from(environ) -> Triggers:
    try:
        return Triggers(
            float(environ.get("LMSYS_RECLUSTER_NOVEL_SHARE", 0.15)),
            int(environ.get("LMSYS_RECLUSTER_MIN_NEW", 500)),
            int(environ.get("LMSYS_RECLUSTER_UNASSIGNED", 100_000)),
        )
    except ValueError as error:
        raise UserError(f"A LMSYS_RECLUSTER_* threshold is not a number: {error}.") from None


def build_recluster_sensor(triggers: Triggers, params: ClusteringParams) -> dg.SensorDefinition:
    @dg.sensor(
        name="recluster_on_novelty_sensor",
        job=cluster_run_job,
        minimum_interval_seconds=3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a new clustering run once the latest run's novel share or its "
        "unassigned new queries cross a threshold (once per latest run).",
    )
    def recluster_on_novelty_sensor(
        context: dg.SensorEvaluationContext, database: DatabaseResource
    ):
        status = late_status(database.manager)
        if status.run_id is None:
            return dg.SkipReason("No materialized clustering run yet.")
        if context.cursor == status.run_id:
            return dg.SkipReason(f"A new run was already requested past {status.run_id}.")
        reason = triggers.reason(status)
        if reason is None:
            return dg.SkipReason(f"{status.run_id}: {status.as_dict()} is below the thresholds.")
        run = prepare_clustering_run(
            database.manager,
            context.instance,
            params=params,
            description=f"re-clustering after {status.run_id}: {reason}",
        )
        context.update_cursor(status.run_id)
        return dg.RunRequest(run_key=run.run_id, partition_key=run.run_id)

    return recluster_on_novelty_sensor


recluster_on_novelty_sensor = build_recluster_sensor(triggers_from(os.environ), RECLUSTER_PARAMS)
