"""Two clustering runs, then two summary runs, materialized at the same time by separate
`dagster asset materialize` processes: on PostgreSQL (tables and Dagster's storage) all
complete; on SQLite they complete or wait for the writer pool, never 'database is locked'."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import create_engine, func, select, text

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.db.models import ClusterSummary, QueryCluster
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import DB_WRITER_POOL
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES
from lmsys_pipeline_tests.support.pipeline_data import build_embedded

DAGSTER = str(Path(sys.executable).parent / "dagster")


def _dagster_storage_url(postgres_url: str) -> str:
    """A second database on the test server for Dagster's own storage."""
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = 'dagster'")
        ).first():
            connection.execute(text("CREATE DATABASE dagster"))
    engine.dispose()
    # dagster-postgres speaks psycopg2; SQLAlchemy 2.1 would pick psycopg 3 for postgresql://.
    base = postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    return base.rsplit("/", 1)[0] + "/dagster"


def _materialize_at_once(env: dict, selection: str, partitions: list[str]) -> None:
    processes = [
        subprocess.Popen(
            [
                DAGSTER,
                "asset",
                "materialize",
                "-m",
                "lmsys_pipeline.definitions",
                "--select",
                selection,
                "--partition",
                key,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for key in partitions
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
        assert "database is locked" not in output


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
@pytest.mark.subprocess
def test_two_clustering_and_two_summary_runs_at_once(
    backend, request, minilm, tmp_path, monkeypatch
):
    db = request.getfixturevalue("postgres_db" if backend == "postgresql" else "sqlite_db")
    build_embedded(db, minilm, tmp_path, queries=120)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "LMSYS_DB_URL": db.engine.url.render_as_string(hide_password=False),
    }
    if backend == "postgresql":
        (home / "dagster.yaml").write_text(Path("deploy/dagster-postgres.yaml").read_text())
        env["DAGSTER_PG_URL"] = _dagster_storage_url(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])
    else:
        (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # PCA: what runs at once is the point here, not UMAP (covered elsewhere, and each process
    # would load its compiled code).
    kmeans = [KMeansParams(n_clusters=k, reduction="pca") for k in (3, 4)]
    runs = [register_run(db, params).run_id for params in kmeans]
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, runs)
        instance.add_dynamic_partitions(SUMMARY_ALIASES, ["kw"])
        # The pool's row is created once, before runs race to create it from default_limit
        # (two processes doing that at once on dagster-postgres hit a unique-key violation);
        # what `dagster instance concurrency set` does, without starting a program for it.
        instance.event_log_storage.set_concurrency_slots(
            DB_WRITER_POOL, 4 if backend == "postgresql" else 1
        )

    _materialize_at_once(env, "cluster_run", runs)
    _materialize_at_once(env, "cluster_summaries", [f"kw|{run}" for run in runs])

    with db.engine.connect() as connection:
        assigned = dict(
            connection.execute(
                select(QueryCluster.run_id, func.count()).group_by(QueryCluster.run_id)
            ).all()
        )
        summarized = dict(
            connection.execute(
                select(ClusterSummary.run_id, func.count()).group_by(ClusterSummary.run_id)
            ).all()
        )
    assert assigned == {runs[0]: 122, runs[1]: 122}
    assert summarized == {runs[0]: 3, runs[1]: 4}
    with dg.DagsterInstance.get() as instance:
        finished = instance.get_runs()
        assert len(finished) == 4
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in finished)
