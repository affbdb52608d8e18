import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline_tests.support.pipeline_data import clustered_copy

runner = CliRunner()


def test_load_runs_through_dagster_and_lands_in_the_instance(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = tmp_path / "q.db"
    result = runner.invoke(app, ["load", "--limit", "700", "--db-url", str(db), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["inserted"], payload["total_queries"]) == (700, 700)
    assert (tmp_path / "dagster_home/dagster.yaml").exists()
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.run_id == payload["dagster_run_id"]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert str(db) not in json.dumps(run.run_config)


def test_load_reports_a_bad_source_in_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    result = runner.invoke(
        app,
        ["load", "--source", str(tmp_path / "missing.parquet"), "--db-url", str(tmp_path / "q.db")],
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


@pytest.mark.subprocess
def test_dagster_asset_materialize_cli_with_a_real_dagster_home(tmp_path: Path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "LMSYS_DB_URL": f"sqlite:///{tmp_path}/q.db"}
    dagster = Path(sys.executable).parent / "dagster"
    command = [
        str(dagster),
        "asset",
        "materialize",
        "-m",
        "lmsys_pipeline.definitions",
        "--select",
        "lmsys_queries",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    import sqlite3

    with sqlite3.connect(tmp_path / "q.db") as connection:
        assert connection.execute("SELECT count(*) FROM queries").fetchone() == (16645,)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1


def test_embed_then_search_from_the_cli(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = str(tmp_path / "q.db")
    assert runner.invoke(app, ["load", "--limit", "150", "--db-url", db]).exit_code == 0
    embedded = runner.invoke(app, ["embed", "--db-url", db, "--json"])
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)["new_queries_embedded"] == 150
    found = runner.invoke(
        app, ["search", "my card does not work", "-k", "3", "--db-url", db, "--json"]
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and all("card" in hit["query_text"].lower() for hit in hits)
    missing_run = runner.invoke(app, ["search", "x", "--run-id", "nope", "--db-url", db])
    assert missing_run.exit_code == 1 and "does not exist" in missing_run.output


def test_cluster_commands_register_partitions_and_print_run_ids(
    tmp_path: Path, monkeypatch, embedded_db_file
):
    import shutil

    from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = tmp_path / "q.db"
    shutil.copyfile(embedded_db_file, db)
    kmeans = runner.invoke(
        app,
        [
            "cluster",
            "kmeans",
            "--n-clusters",
            "6",
            "--description",
            "cli test",
            "--db-url",
            str(db),
            "--json",
        ],
    )
    assert kmeans.exit_code == 0, kmeans.output
    payload = json.loads(kmeans.stdout)
    assert payload["run_id"].startswith("kmeans-6-") and payload["num_clusters"] == 6
    assert (payload["algorithm"], payload["num_queries"], payload["noise_share"]) == (
        "kmeans",
        600,
        0.0,
    )
    assert payload["parameters"]["n_clusters"] == 6 and payload["description"] == "cli test"
    assert payload["size_min"] <= payload["size_median"] <= payload["size_max"]
    largest = payload["largest_clusters"]
    assert len(largest) == 6 and sum(c["queries"] for c in largest) == 600
    assert all(len(c["central_queries"]) == 3 for c in largest)
    assert payload["parameters"]["reduction"] == "umap"
    hdbscan = runner.invoke(app, ["cluster", "hdbscan", "--db-url", str(db)])
    assert hdbscan.exit_code == 0, hdbscan.output
    assert hdbscan.stdout.startswith("hdbscan-10-")  # max(10, 600 / 400), recorded
    assert "reduction: umap to 5 dimensions" in hdbscan.stdout
    assert "largest cluster" in hdbscan.stdout
    with dg.DagsterInstance.get() as instance:
        partitions = instance.get_dynamic_partitions(CLUSTERING_RUNS)
        assert payload["run_id"] in partitions and len(partitions) == 2
        runs = instance.get_runs()
        assert len(runs) == 2 and payload["dagster_run_id"] in {r.run_id for r in runs}
    refused = runner.invoke(app, ["cluster", "kmeans", "-k", "0", "--db-url", str(db)])
    assert refused.exit_code == 1
    assert refused.output == "Error: --n-clusters 0: input should be greater than or equal to 1.\n"
    too_many = runner.invoke(app, ["cluster", "kmeans", "-k", "5000", "--db-url", str(db)])
    assert too_many.exit_code == 1 and "fewer than the 5000 clusters" in too_many.output
    assert "kmeans-5000" not in too_many.output  # refused before registration
    misplaced = ["cluster", "kmeans", "-k", "5", "--reduction", "pca", "--umap-neighbors", "30"]
    refused_umap = runner.invoke(app, [*misplaced, "--db-url", str(db)])
    assert refused_umap.exit_code == 1
    assert refused_umap.output.startswith("Error: --umap-neighbors applies to --reduction umap")


def test_summarize_offline_prints_the_alias_and_titles(
    tmp_path: Path, monkeypatch, embedded_db_file
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = clustered_copy(embedded_db_file, tmp_path, 5)
    shown = runner.invoke(app, ["summarize", run_id, "--db-url", str(db)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"keyphrase on {run_id}: summary-keyphrase-")
    assert "local/keyphrase" in shown.stdout and shown.stdout.count("│") >= 5 * 4
    assert "label_measures: {'member_fit':" in shown.stdout
    payload = json.loads(
        runner.invoke(
            app, ["summarize", run_id, "--alias", "kw2", "--json", "--db-url", str(db)]
        ).stdout
    )
    assert payload["alias"] == "kw2" and payload["clusters_done"] == 5
    assert (payload["model"], payload["status"], payload["failures"]) == (
        "local/keyphrase",
        "completed",
        {},
    )
    assert payload["run_id"] == run_id and payload["summary_run_id"].startswith("summary-")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and payload["dagster_run_id"] in {r.run_id for r in runs}
        assert set(instance.get_dynamic_partitions("summary_aliases")) == {"keyphrase", "kw2"}
    unknown = runner.invoke(app, ["summarize", "kmeans-3-nope", "--db-url", str(db)])
    assert unknown.exit_code == 1 and "kmeans-3-nope is not registered" in unknown.output


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_summary_run_resumes_asking_only_for_missing_clusters(
    tmp_path: Path, embedded_db_file, monkeypatch
):
    """The killed run is an ``lmsys`` process; the same command resumes it in this process."""
    import signal
    import sqlite3
    import time

    from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

    secret = "sk-test-SECRET-never-written-anywhere"
    db, run_id = clustered_copy(embedded_db_file, tmp_path, 12)
    home = tmp_path / "dagster_home"
    state = ServerState(chat_latency=0.4)
    with openai_server(state) as url:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "OPENAI_API_KEY": secret,
            "HOME": str(tmp_path),
        }
        command = [
            str(Path(sys.executable).parent / "lmsys"),
            "summarize",
            run_id,
            "--alias",
            "gpt",
            "--model",
            "openai/gpt-4o-mini",
            "--base-url",
            url,
            "--concurrency",
            "2",
            "--db-url",
            str(db),
            "--verbose",
        ]

        def committed() -> int:
            with sqlite3.connect(db) as connection:
                return connection.execute(
                    "SELECT count(*) FROM cluster_summaries WHERE alias = 'gpt'"
                ).fetchone()[0]

        killed = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while committed() < 4 and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        first_out, first_err = killed.communicate()
        done_before = committed()
        assert 4 <= done_before < 12
        asked_before = len(state.chat_requests)

        for name in ("DAGSTER_HOME", "OPENAI_API_KEY", "HOME"):
            monkeypatch.setenv(name, env[name])
        resumed = runner.invoke(app, command[1:])
        assert resumed.exit_code == 0, resumed.output[-2000:]
        assert len(state.chat_requests) - asked_before == 12 - done_before
    with sqlite3.connect(db) as connection:
        per_cluster = connection.execute(
            "SELECT cluster_id, count(*), count(DISTINCT summary_run_id) FROM "
            "cluster_summaries WHERE alias = 'gpt' GROUP BY cluster_id"
        ).fetchall()
        ledger = connection.execute(
            "SELECT status, clusters_done, requests FROM summary_runs WHERE alias = 'gpt'"
        ).fetchall()
    assert len(per_cluster) == 12 and all(n == 1 and s == 1 for _, n, s in per_cluster)
    assert ledger[0][:2] == ("completed", 12) and len(ledger) == 1
    assert "(resumed)" in resumed.stdout + resumed.stderr
    for text in (first_out, first_err, resumed.stdout, resumed.stderr):
        assert secret not in text
    for path in [db, *home.rglob("*")]:
        assert path.is_dir() or secret.encode() not in path.read_bytes(), path
