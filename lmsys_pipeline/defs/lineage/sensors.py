"""The scheduled path carries titles forward: after a scheduled run's lineage, every alias
that labelled the earlier run gets a summary run on the new run with ``carry_from`` = itself,
so only new, split and merged clusters (and weakly continuing ones) are sent to its model."""

import dagster as dg

from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.defs.summarizing.partitions import (
    add_summary_partitions,
    summary_partition_key,
    summary_partitions,
)
from lmsys_pipeline.summarizing.carry import aliases_to_carry

SCHEDULE_TAG = "dagster/schedule_name"
SCHEDULE_NAME = "recluster_schedule"

carry_summaries_job = dg.define_asset_job(
    "carry_summaries_job", selection=["cluster_summaries"], partitions_def=summary_partitions
)


@dg.asset_sensor(
    asset_key=dg.AssetKey("cluster_lineage"),
    job=carry_summaries_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a scheduled run's lineage: a summary run per alias of the earlier run, "
    "carrying the titles of continuing clusters.",
)
def carry_titles_sensor(
    context: dg.SensorEvaluationContext,
    asset_event: dg.EventLogEntry,
    database: DatabaseResource,
):
    run = context.instance.get_run_by_id(asset_event.run_id)
    if run is None or run.tags.get(SCHEDULE_TAG) != SCHEDULE_NAME:
        return dg.SkipReason("Not a scheduled run: manual runs carry titles with --carry-from.")
    run_id = asset_event.dagster_event.partition
    materialization = asset_event.asset_materialization
    from_run = materialization.metadata.get("from_run_id") if materialization else None
    if from_run is None or from_run.value is None:
        return dg.SkipReason(f"{run_id} has no earlier run to carry titles from.")
    requests = []
    for alias, model in aliases_to_carry(database.manager, from_run.value).items():
        add_summary_partitions(context.instance, run_id, alias)
        requests.append(
            dg.RunRequest(
                run_key=f"carry|{alias}|{run_id}",
                partition_key=summary_partition_key(run_id, alias),
                run_config={
                    "ops": {"cluster_summaries": {"config": {"carry_from": alias, "model": model}}}
                },
            )
        )
    return requests or dg.SkipReason(f"{from_run.value} has no finished summary run to carry.")
