"""One prepare path per clustering run: the CLI, a partition added by hand in the UI and the
re-clustering schedule register the same kind of run the same way."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.launch import materialize
from lmsys_pipeline.dagster_home import ensure_dagster_home
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, QueryCluster
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.clustering.schedules import build_recluster_schedule, recluster_params
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.errors import UserError

runner = CliRunner()


def _assignments(db: DatabaseManager, run_id: str) -> list[tuple[int, int]]:
    with db.engine.connect() as connection:
        return connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id)
            .where(QueryCluster.run_id == run_id)
            .order_by(QueryCluster.query_id)
        ).all()


@pytest.mark.slow
def test_the_cli_the_ui_and_the_schedule_register_identical_runs(
    tmp_path: Path, monkeypatch, embedded_db_file
):
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    database = {"database": DatabaseResource(url=url)}

    made = runner.invoke(app, ["cluster", "kmeans", "-k", "5", "--db-url", url, "--json"])
    assert made.exit_code == 0, made.output
    from_cli = json.loads(made.stdout)["run_id"]

    from_ui = "kmeans-5-added-in-the-ui"
    with dg.DagsterInstance.from_config(str(ensure_dagster_home())) as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, [from_ui])
        result = materialize(
            instance, "cluster_run", {}, verbose=False, resources=database, partition_key=from_ui
        )
        assert result.success
        schedule = build_recluster_schedule("0 4 * * 0", recluster_params("kmeans", "5"))
        with dg.build_schedule_context(
            instance=instance, resources=database, repository_def=defs.get_repository_def()
        ) as context:
            [request] = list(schedule.evaluate_tick(context).run_requests)
        from_schedule = request.partition_key
        assert instance.has_dynamic_partition(CLUSTERING_RUNS, from_schedule)
        result = materialize(
            instance,
            "cluster_run",
            {},
            verbose=False,
            resources=database,
            partition_key=from_schedule,
        )
        assert result.success

    db = DatabaseManager(url)
    with db.get_session() as session:
        runs = [session.get(ClusteringRun, r) for r in (from_cli, from_ui, from_schedule)]
    described = [(r.algorithm, r.num_clusters, r.parameters) for r in runs]
    assert described[0] == described[1] == described[2]
    assert runs[0].parameters["n_queries"] == 600
    assert _assignments(db, from_cli) == _assignments(db, from_ui)
    assert _assignments(db, from_cli) == _assignments(db, from_schedule)
    assert "scheduled" in runs[2].description
    db.dispose()


def test_hdbscan_runs_leave_the_kmeans_only_check_out(tmp_path: Path, embedded_db_file):
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, ["hdbscan-25-ui"])
        result = materialize(
            instance,
            "cluster_run",
            {"reduction": "pca"},
            verbose=False,
            resources={"database": DatabaseResource(url=url)},
            partition_key="hdbscan-25-ui",
        )
    assert result.success
    evaluated = {
        event.event_specific_data.check_name
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert "no_empty_kmeans_cluster" not in evaluated
    assert "every_query_assigned_once" in evaluated


@pytest.mark.parametrize(
    ("algorithm", "size", "message"),
    [
        ("KMeans", "100", "Unknown clustering algorithm 'KMeans'"),
        ("kmeanz", "100", "use one of kmeans, hdbscan"),
        ("kmeans", "lots", "must be a whole number"),
        ("kmeans", "0", "--n-clusters 0"),
    ],
)
def test_bad_schedule_settings_are_refused(algorithm, size, message):
    with pytest.raises(UserError, match=message):
        recluster_params(algorithm, size)


@pytest.mark.subprocess
def test_a_bad_schedule_setting_fails_when_the_definitions_load(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LMSYS_RECLUSTER_ALGORITHM": "KMeans"}
    loaded = subprocess.run(
        [sys.executable, "-c", "import lmsys_pipeline.definitions"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert loaded.returncode != 0
    assert "Unknown clustering algorithm 'KMeans'" in loaded.stderr
