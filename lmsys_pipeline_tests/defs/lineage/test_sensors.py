"""The scheduled path carries titles: a scheduled run's lineage makes ``carry_titles_sensor``
request a carried summary run per alias of the earlier run; a manual run's does not."""

import dagster as dg
from sqlmodel import select

from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.defs.lineage.sensors import carry_titles_sensor
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.defs.lineage.scheduled import tick_schedule
from lmsys_pipeline_tests.support.pipeline_data import K, summarize


def _tick(instance, resources, cursor=None):
    # an instance_ref, as the sensor daemon has: partition keys are checked against it
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        resources=resources,
        cursor=cursor,
        definitions=definitions_with(**resources),
    ) as context:
        return carry_titles_sensor.evaluate_tick(context)


def test_a_scheduled_run_gets_carried_summaries_and_a_manual_one_does_not(two_runs):
    db, _, run_b = two_runs
    summarize(db, run_b, "kw", label_quality_queries=0)
    resources = {"database": DatabaseResource(url=str(db.engine.url))}
    definitions = definitions_with(**resources)
    with dg.instance_for_test() as instance:
        run_c = tick_schedule(instance, resources)
        job = definitions.resolve_job_def("cluster_run_job")
        # a manual materialization of the same asset: nothing to carry
        manual = job.execute_in_process(instance=instance, partition_key=run_c)
        assert manual.success
        skipped = _tick(instance, resources)
        assert not skipped.run_requests and "Not a scheduled run" in skipped.skip_message

        scheduled = job.execute_in_process(
            instance=instance,
            partition_key=run_c,
            tags={"dagster/schedule_name": "recluster_schedule"},
        )
        assert scheduled.success
        [carry] = _tick(instance, resources, skipped.cursor).run_requests
        assert carry.partition_key == f"kw|{run_c}"
        config = carry.run_config["ops"]["cluster_summaries"]["config"]
        assert config == {"carry_from": "kw", "model": "local/keyphrase"}

        summaries = definitions.resolve_job_def("carry_summaries_job")
        done = summaries.execute_in_process(
            instance=instance, partition_key=carry.partition_key, run_config=carry.run_config
        )
        assert done.success
    with db.get_session() as session:
        [entry] = session.exec(select(SummaryRun).where(SummaryRun.run_id == run_c)).all()
    # run C repeats run B exactly (same queries, seed and k): every cluster carries its title
    assert entry.status == "completed" and len(entry.parameters["carried"]) == K
