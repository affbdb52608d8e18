import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline_tests.conftest import EMBEDDED_QUERIES


@pytest.fixture
def db_url(embedded_db_file: Path, tmp_path: Path, monkeypatch) -> str:
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    monkeypatch.setenv("LMSYS_DB_URL", url)
    return url


def _run(instance, run_id: str, config: dict | None = None) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
    return defs.resolve_job_def("cluster_run_job").execute_in_process(
        instance=instance,
        partition_key=run_id,
        run_config={"ops": {"cluster_run": {"config": config or {}}}},
        raise_on_error=False,
    )


def _metadata(result) -> dict:
    [event] = result.asset_materializations_for_node("cluster_run")
    return {key: value.value for key, value in event.metadata.items()}


def test_a_registered_run_materializes_with_metadata_and_passing_checks(db_url):
    run = register_run(DatabaseManager(db_url), KMeansParams(n_clusters=10))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(instance, run.run_id)
        assert result.success
        metadata = _metadata(result)
        assert (metadata["num_clusters"], metadata["num_queries"]) == (10, EMBEDDED_QUERIES)
        assert metadata["noise_share"] == 0.0
        assert metadata["size_min"] <= metadata["size_median"] <= metadata["size_max"]
        assert -1 <= metadata["silhouette_cosine_sample"] <= 1
        assert {"load_vectors", "fit_inits", "fit_all_vectors", "assign", "write"} <= set(
            metadata["seconds_by_phase"]
        )
        assert metadata["largest_clusters"].count("\n") == 11  # header, rule, 10 clusters
        assert metadata["cluster_map"].startswith(
            f"![cluster map of {run.run_id}](data:image/png;base64,"
        )
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert len(checks) == 4 and all(checks.values())


def test_a_partition_added_in_the_ui_registers_itself(db_url):
    with dg.DagsterInstance.ephemeral() as instance:
        implied = _run(instance, "kmeans-7-20250101-000000")
        assert implied.success and _metadata(implied)["num_clusters"] == 7
        configured = _run(
            instance, "my-density-run", {"algorithm": "hdbscan", "min_cluster_size": 10}
        )
        assert configured.success and _metadata(configured)["algorithm"] == "hdbscan"
        checks = {e.check_name: e.passed for e in configured.get_asset_check_evaluations()}
        assert "no_empty_kmeans_cluster" not in checks  # not run for HDBSCAN, not "passed"
        assert len(checks) == 3 and all(checks.values())
        unknown = _run(instance, "what-is-this")
        assert not unknown.success
        [failure] = [e for e in unknown.all_events if e.is_step_failure]
        assert "does not say how to cluster" in (
            failure.event_specific_data.user_failure_data.description
        )


@pytest.mark.slow
@pytest.mark.subprocess
def test_dagster_asset_materialize_cli_for_a_new_partition(db_url, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile("dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, ["kmeans-9-20250101-000000"])
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "lmsys_pipeline.definitions",
            "--select",
            "cluster_run",
            "--partition",
            "kmeans-9-20250101-000000",
        ],
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    with sqlite3.connect(tmp_path / "q.db") as connection:
        rows = connection.execute(
            "SELECT count(*), count(DISTINCT cluster_id) FROM query_clusters "
            "WHERE run_id = 'kmeans-9-20250101-000000'"
        ).fetchone()
    assert rows == (EMBEDDED_QUERIES, 9)
