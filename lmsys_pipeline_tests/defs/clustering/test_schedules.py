import shutil
from pathlib import Path

import dagster as dg
import pytest

from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.clustering.schedules import build_recluster_schedule, recluster_params
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.errors import UserError


def test_a_schedule_tick_registers_a_new_run_and_requests_it(tmp_path: Path, embedded_db_file):
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    schedule = build_recluster_schedule("0 4 * * 0", recluster_params("kmeans", "25"))
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


def test_schedule_settings_are_validated_in_one_sentence():
    assert recluster_params("hdbscan", 30) == HDBSCANParams(min_cluster_size=30)
    assert recluster_params("kmeans", "100") == KMeansParams(n_clusters=100)
    for algorithm, size, message in [
        ("spectral", "10", "Unknown clustering algorithm 'spectral'"),
        ("kmeans", "ten", "LMSYS_RECLUSTER_SIZE must be a whole number, not 'ten'."),
        ("hdbscan", "1", "--min-cluster-size 1: input should be greater than or equal to 2."),
    ]:
        with pytest.raises(UserError) as raised:
            recluster_params(algorithm, size)
        assert str(raised.value).startswith(message)


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
