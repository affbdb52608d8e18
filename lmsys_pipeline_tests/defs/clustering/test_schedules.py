import shutil
from pathlib import Path

import dagster as dg

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.clustering.schedules import build_recluster_schedule
from lmsys_pipeline.defs.resources import DatabaseResource


def test_a_schedule_tick_registers_a_new_run_and_requests_it(tmp_path: Path, embedded_db_file):
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    schedule = build_recluster_schedule("0 4 * * 0", "kmeans", 25)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            resources={"database": DatabaseResource(url=url)},
            repository_def=defs.get_repository_def(),
        ) as context,
    ):
        [request] = list(schedule.evaluate_tick(context).run_requests)
        run_id = request.partition_key
        assert run_id.startswith("kmeans-25-") and request.run_key == run_id
        assert instance.get_dynamic_partitions(CLUSTERING_RUNS) == [run_id]
        [second] = list(schedule.evaluate_tick(context).run_requests)
        assert second.partition_key != run_id
    with DatabaseManager(url).get_session() as session:
        run = session.get(ClusteringRun, run_id)
    assert run.parameters["n_clusters"] == 25 and "scheduled" in run.description
    assert schedule.cron_schedule == "0 4 * * 0"


def test_the_shipped_schedule_targets_the_cluster_job():
    schedule = defs.resolve_schedule_def("recluster_schedule")
    assert schedule.job_name == "cluster_run_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_new_queries_make_embeddings_stale_and_requested(
    embedded_db_file: Path, tmp_path, monkeypatch
):
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/q.db")
    with dg.instance_for_test() as instance:

        def requested(cursor=None):
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
            keys = {r.key.to_user_string() for r in result.results if r.true_subset.size}
            return keys, result.cursor

        _, cursor = requested()
        quiet, cursor = requested(cursor)
        assert "query_embeddings" not in quiet
        defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("lmsys_queries")],
            run_config={"ops": {"lmsys_queries": {"config": {"limit": 10}}}},
        )
        after_new_queries, _ = requested(cursor)
    assert "query_embeddings" in after_new_queries
