"""Scheduled re-clustering: each tick registers a new run id and requests its partition.

Configured by environment variables read when the definitions load, so a deployment changes
them without code:
``LMSYS_RECLUSTER_CRON`` (default ``0 3 * * 1``, Mondays 03:00 UTC),
``LMSYS_RECLUSTER_ALGORITHM`` (a registered algorithm: ``kmeans`` | ``hdbscan``; default
``kmeans``), ``LMSYS_RECLUSTER_SIZE`` (k for KMeans, min cluster size for HDBSCAN; default 100).
A bad value fails when the definitions load, in one sentence. The schedule is stopped by
default; switch it on in the UI (Automation) or with ``dagster schedule start
recluster_schedule``.
"""

import os

import dagster as dg

from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.clustering.registry import algorithm, build_params
from lmsys_pipeline.defs.clustering.prepare import prepare_clustering_run
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.errors import UserError

# The run, then its lineage against the previous run of its algorithm.
cluster_run_job = dg.define_asset_job(
    "cluster_run_job", selection=["cluster_run", "cluster_lineage"]
)


def recluster_params(algorithm_name: str, size: str | int) -> ClusteringParams:
    """The parameters of every scheduled run; one ``UserError`` sentence for a bad setting."""
    chosen = algorithm(algorithm_name)
    try:
        number = int(size)
    except ValueError:
        raise UserError(f"LMSYS_RECLUSTER_SIZE must be a whole number, not {size!r}.") from None
    return build_params(chosen.name, {chosen.size_field: number})


def build_recluster_schedule(cron: str, params: ClusteringParams) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="recluster_schedule",
        cron_schedule=cron,
        execution_timezone="UTC",
        target=cluster_run_job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Registers and runs a new {params.algorithm} clustering run ({cron}).",
    )
    def recluster_schedule(context: dg.ScheduleEvaluationContext, database: DatabaseResource):
        run = prepare_clustering_run(
            database.manager,
            context.instance,
            params=params,
            description=f"scheduled re-clustering ({cron})",
        )
        return dg.RunRequest(run_key=run.run_id, partition_key=run.run_id)

    return recluster_schedule


RECLUSTER_PARAMS = recluster_params(
    os.environ.get("LMSYS_RECLUSTER_ALGORITHM", "kmeans"),
    os.environ.get("LMSYS_RECLUSTER_SIZE", "100"),
)
recluster_schedule = build_recluster_schedule(
    os.environ.get("LMSYS_RECLUSTER_CRON", "0 3 * * 1"), RECLUSTER_PARAMS
)
