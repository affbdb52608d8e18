"""A tick of a re-clustering schedule with k = ``pipeline_data.K``: the run id it registers."""

import dagster as dg

from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.schedules import build_recluster_schedule, recluster_params
from lmsys_pipeline_tests.support.pipeline_data import K


def tick_schedule(instance: dg.DagsterInstance, resources: dict) -> str:
    schedule = build_recluster_schedule("0 4 * * 0", recluster_params("kmeans", str(K)))
    with dg.build_schedule_context(
        instance=instance, resources=resources, repository_def=defs.get_repository_def()
    ) as context:
        [request] = list(schedule.evaluate_tick(context).run_requests)
    return request.partition_key
