"""Scheduled re-clustering: each tick registers a new run id and requests its partition.

Configured by environment variables read when the definitions load, so a deployment changes
them without code:
``LMSYS_RECLUSTER_CRON`` (default ``0 3 * * 1``, Mondays 03:00 UTC),
``LMSYS_RECLUSTER_ALGORITHM`` (``kmeans`` | ``hdbscan``, default ``kmeans``),
``LMSYS_RECLUSTER_SIZE`` (k for KMeans, min cluster size for HDBSCAN; default 100).
The schedule is stopped by default; switch it on in the UI (Automation) or with
``dagster schedule start recluster_schedule``.
"""

import os

import dagster as dg

from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import DatabaseResource

cluster_run_job = dg.define_asset_job("cluster_run_job", selection=["cluster_run"])


def recluster_params(algorithm: str, size: int) -> ClusteringParams:
    if algorithm == "kmeans":
        return ClusteringParams(algorithm="kmeans", n_clusters=size)
    return ClusteringParams(algorithm="hdbscan", min_cluster_size=size)


def build_recluster_schedule(cron: str, algorithm: str, size: int) -> dg.ScheduleDefinition:
    params = recluster_params(algorithm, size)  # fails at load time on bad settings

    @dg.schedule(
        name="recluster_schedule",
        cron_schedule=cron,
        execution_timezone="UTC",
        target=cluster_run_job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Registers and runs a new {algorithm} clustering run ({cron}).",
    )
    def recluster_schedule(context: dg.ScheduleEvaluationContext, database: DatabaseResource):
        run = register_run(
            database.manager,
            params,
            description=f"scheduled re-clustering ({cron})",
        )
        context.instance.add_dynamic_partitions(CLUSTERING_RUNS, [run.run_id])
        return dg.RunRequest(run_key=run.run_id, partition_key=run.run_id)

    return recluster_schedule


recluster_schedule = build_recluster_schedule(
    os.environ.get("LMSYS_RECLUSTER_CRON", "0 3 * * 1"),
    os.environ.get("LMSYS_RECLUSTER_ALGORITHM", "kmeans"),
    int(os.environ.get("LMSYS_RECLUSTER_SIZE", "100")),
)
