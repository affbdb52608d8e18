"""``cluster_lineage`` on the scheduled path: a schedule tick's run and its lineage against
the previous run of its algorithm, in one job, in a real Dagster instance."""

import dagster as dg
import pytest
from sqlalchemy import select

from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.defs.lineage.scheduled import tick_schedule
from lmsys_pipeline_tests.support.pipeline_data import K


def _metadata(result, asset: str) -> dict:
    [event] = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in event.metadata.items()}


@pytest.mark.parametrize("two_runs_any", ["sqlite", "postgresql"], indirect=True)
def test_a_scheduled_run_gets_its_lineage_against_the_previous_run(two_runs_any):
    db, run_a, run_b = two_runs_any
    resources = {
        "database": DatabaseResource(url=db.engine.url.render_as_string(hide_password=False))
    }
    with dg.instance_for_test() as instance:
        run_c = tick_schedule(instance, resources)
        job = definitions_with(**resources).resolve_job_def("cluster_run_job")
        result = job.execute_in_process(instance=instance, partition_key=run_c)
        assert result.success
        lineage = _metadata(result, "cluster_lineage")
        # run C clusters the same queries as B with the same seed: every cluster continues
        assert lineage["from_run_id"] == run_b
        assert lineage["clusters_continues"] == K and lineage["clusters_new"] == 0
        assert lineage["fastest_growing_clusters"].startswith("| from | to | share before")

        # any earlier run can be named instead
        named = job.execute_in_process(
            instance=instance,
            partition_key=run_c,
            asset_selection=[dg.AssetKey("cluster_lineage")],
            run_config={"ops": {"cluster_lineage": {"config": {"from_run_id": run_a}}}},
        )
        assert _metadata(named, "cluster_lineage")["from_run_id"] == run_a
        # the first run has nothing before it: materialized, nothing written
        instance.add_dynamic_partitions("clustering_runs", [run_a])
        first = job.execute_in_process(
            instance=instance,
            partition_key=run_a,
            asset_selection=[dg.AssetKey("cluster_lineage")],
        )
        assert _metadata(first, "cluster_lineage")["from_run_id"] is None
    with db.engine.connect() as connection:
        pairs = connection.execute(
            select(ClusterLineage.from_run_id, ClusterLineage.kind).where(
                ClusterLineage.to_run_id == run_c
            )
        ).all()
    assert {p for p, _ in pairs} == {run_a, run_b}
    assert [k for p, k in pairs if p == run_b] == ["continues"] * K
