"""A materialization killed with SIGKILL half-way, then run again, leaves exactly the tables an
uninterrupted run leaves: no duplicates, no orphans. The killed command is an ``lmsys``
process; the run that finishes its work is the same command in this process. (Summary runs:
cli/test_compute.py.)"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.rows import message, row, write_parquet

LMSYS = str(Path(sys.executable).parent / "lmsys")
ROWS = 120_000


def _env(tmp_path: Path, db: Path) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LMSYS_DB_URL": f"sqlite:///{db}",
        "HF_HUB_OFFLINE": "1",
    }


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as connection:
            return connection.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def _runs_end_as(env: dict, statuses: list[str]) -> None:
    """The killed run is recorded as failed (its pool slot freed), the re-run succeeded."""
    import dagster as dg

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with dg.DagsterInstance.get() as instance:
            runs = sorted(
                instance.get_runs(),
                key=lambda r: r.run_id and instance.get_run_record_by_id(r.run_id).create_timestamp,
            )
            assert [run.status.value for run in runs] == statuses
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous


def _kill_when(command: list[str], env: dict, ready, timeout: float = 180) -> None:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


def _finish_here(command: list[str], env: dict, monkeypatch: pytest.MonkeyPatch):
    """The same command again, in this process: the killed one was the program."""
    from typer.testing import CliRunner

    from lmsys_pipeline.cli import app

    for name in ("DAGSTER_HOME", "LMSYS_DB_URL"):
        monkeypatch.setenv(name, env[name])
    finished = CliRunner().invoke(app, command[1:])
    assert finished.exit_code == 0, finished.output[-2000:]
    return finished


@pytest.mark.slow
@pytest.mark.subprocess
def test_killed_ingestion_is_finished_by_the_next_run(tmp_path, monkeypatch):
    source = write_parquet(
        tmp_path / "big.parquet",
        [
            row(f"conv-{i}", [message("user", f"question number {i % 9_000}: how do I do it?")])
            for i in range(ROWS)
        ],
    )
    killed_db, whole_db = tmp_path / "killed.db", tmp_path / "whole.db"
    env = _env(tmp_path, killed_db)
    command = [LMSYS, "load", "--source", str(source)]
    _kill_when(command, env, lambda: 0 < _count(killed_db, "SELECT count(*) FROM queries") < ROWS)
    partial = _count(killed_db, "SELECT count(*) FROM queries")
    assert 0 < partial < ROWS
    finished = _finish_here(command, env, monkeypatch)
    assert "its process was killed" in finished.stderr  # the killed run was closed first
    _runs_end_as(env, ["FAILURE", "SUCCESS"])
    ingest_batches(DatabaseManager(whole_db), open_source(str(source)).batches(10_000))
    table = "SELECT conversation_id, model, query_text, language FROM queries ORDER BY 1"
    with sqlite3.connect(killed_db) as killed, sqlite3.connect(whole_db) as whole:
        assert killed.execute(table).fetchall() == whole.execute(table).fetchall()
        assert killed.execute("SELECT count(*) FROM queries").fetchone() == (ROWS,)


@pytest.mark.slow
@pytest.mark.subprocess
def test_killed_embedding_is_finished_by_the_next_run(tmp_path, embedded_db_file, monkeypatch):
    killed_db = tmp_path / "killed.db"
    ingest_batches(DatabaseManager(killed_db), open_source(None).batches(1000), limit=600)
    env = _env(tmp_path, killed_db)
    command = [LMSYS, "embed", "--chunk-size", "40"]
    _kill_when(
        command, env, lambda: 80 <= _count(killed_db, "SELECT count(*) FROM query_embeddings") < 560
    )
    assert 0 < _count(killed_db, "SELECT count(*) FROM query_embeddings") < 600
    _finish_here(command, env, monkeypatch)
    _runs_end_as(env, ["FAILURE", "SUCCESS"])
    orphans = (
        "SELECT count(*) FROM text_embeddings t WHERE NOT EXISTS (SELECT 1 FROM "
        "query_embeddings q WHERE q.text_embedding_id = t.id)"
    )
    assert _count(killed_db, orphans) == 0
    assert _count(killed_db, "SELECT count(*) FROM query_embeddings") == 600
    assert _count(killed_db, "SELECT count(DISTINCT text_hash) FROM text_embeddings") == _count(
        killed_db, "SELECT count(*) FROM text_embeddings"
    )
    killed = load_vectors(DatabaseManager(killed_db), "all-MiniLM-L6-v2")
    whole = load_vectors(DatabaseManager(embedded_db_file), "all-MiniLM-L6-v2")
    assert (killed.query_ids == whole.query_ids).all()
    assert len(killed.vectors) == len(whole.vectors)
    assert np.allclose(killed.for_queries(), whole.for_queries(), atol=1e-5)


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_embedding_run_never_leaves_the_vector_cache_wrong(tmp_path, minilm, monkeypatch):
    """A cache built before the run, the run killed between chunks: the next load gives what
    the tables hold (the killed run's committed chunks included), and the finishing run leaves
    the cache current."""
    from lmsys_pipeline.db.models import Query
    from lmsys_pipeline.embedding.cache import MANIFEST, model_folder
    from lmsys_pipeline.embedding.store import (
        load_vectors_from_db,
        register_model,
        save_chunk,
        text_hash,
    )

    killed_db = tmp_path / "killed.db"
    db = DatabaseManager(killed_db)
    ingest_batches(db, open_source(None).batches(1000), limit=600)
    with db.get_session() as session:
        first = session.exec(select(Query.id, Query.query_text).order_by(Query.id).limit(100)).all()
    register_model(db, minilm.name, minilm.dimension, minilm.backend)
    texts = {text_hash(t): t.strip() for _, t in first}
    with db.engine.begin() as connection:
        vectors = minilm.embed(list(texts.values()))
        save_chunk(
            connection,
            minilm.name,
            dict(zip(texts, vectors, strict=True)),
            [(i, text_hash(t)) for i, t in first],
        )
    assert len(load_vectors(db, minilm.name).query_ids) == 100  # builds the cache

    def same_as_tables() -> int:
        cached, direct = load_vectors(db, minilm.name), load_vectors_from_db(db, minilm.name, 384)
        np.testing.assert_array_equal(cached.query_ids, direct.query_ids)
        np.testing.assert_array_equal(cached.for_queries(), direct.for_queries())
        return len(cached.query_ids)

    env = _env(tmp_path, killed_db)
    command = [LMSYS, "embed", "--chunk-size", "40"]
    _kill_when(
        command,
        env,
        lambda: 180 <= _count(killed_db, "SELECT count(*) FROM query_embeddings") < 560,
    )
    assert 180 <= same_as_tables() < 600
    _finish_here(command, env, monkeypatch)
    manifest = (model_folder(db, minilm.name) / MANIFEST).read_text()
    assert '"links": 600' in manifest  # refreshed by the finishing run itself
    assert same_as_tables() == 600
    db.dispose()
