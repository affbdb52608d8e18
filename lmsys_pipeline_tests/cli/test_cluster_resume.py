"""``lmsys cluster`` stopped after it registered its run (SIGTERM, as ``docker stop``, CI
time-outs and ``kill`` send) says the same command resumes, and the same command does: it
materializes that run instead of registering another and leaving a ghost. The stopped command
is an ``lmsys`` process; the commands after it run in this process."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.dagster_home import ensure_dagster_home
from lmsys_pipeline.defs.resources import DB_WRITER_POOL
from lmsys_pipeline.run_claims import materializing, run_claims

LMSYS = str(Path(sys.executable).parent / "lmsys")
HOLDER = "test-holds-the-writers-slot"


def _runs(db: Path) -> list[tuple[str, bool]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT run_id, parameters LIKE '%n_queries%' FROM clustering_runs ORDER BY run_id"
        ).fetchall()


def _lines_of(stream, lines: list[str]) -> threading.Thread:
    """Reads ``stream`` line by line into ``lines`` on a thread of its own."""
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    return reader


@pytest.mark.subprocess
def test_sigterm_after_registration_then_the_same_command_resumes_that_run(
    tmp_path: Path, monkeypatch, embedded_db_file
):
    db = tmp_path / "q.db"
    shutil.copyfile(embedded_db_file, db)
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = {**os.environ, "DAGSTER_HOME": str(home), "HOME": str(tmp_path)}
    command = [LMSYS, "cluster", "kmeans", "-k", "5", "--reduction", "pca", "--db-url", str(db)]
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        # The writers' pool has one slot (SQLite): holding it, as a long write elsewhere
        # would, stops the run after it registered and started, before it writes anything.
        # The pool's slot is made first, as a run makes it: a claim on a pool with no slot yet
        # only queues, and the command's run could then take the slot it makes (seen once
        # under load: the run finished and the SIGTERM found nothing to stop).
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(DB_WRITER_POOL)
        assert storage.claim_concurrency_slot(DB_WRITER_POOL, HOLDER, "write").is_claimed
        stopped = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        err_lines: list[str] = []
        reader = _lines_of(stopped.stderr, err_lines)
        deadline = time.monotonic() + 120
        while (
            not any("Waiting for a free slot" in line for line in err_lines)
            and stopped.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert stopped.poll() is None, "".join(err_lines)[-2000:]
        assert f"pool {DB_WRITER_POOL} (held by run {HOLDER})" in "".join(err_lines)
        [(run_id, materialized)] = _runs(db)
        assert not materialized
        with run_claims(home) as claims:  # the live command holds its run: nobody takes it up
            assert not claims.claim(run_id)
        # It waits before its Dagster run starts (Dagster's in-process executor would not
        # notice SIGTERM while a step waits for a slot).
        assert not materializing(instance, run_id)
        stopped.send_signal(signal.SIGTERM)
        stopped.wait(timeout=120)
        reader.join(timeout=60)
        stopped_err = "".join(err_lines)
        instance.event_log_storage.free_concurrency_slots_for_run(HOLDER)

    assert stopped.returncode == 130, stopped_err[-2000:]

    # The same command again, in this process (the stopped one was a program of its own).
    resumed = CliRunner().invoke(app, command[1:])

    assert resumed.exit_code == 0, resumed.output[-2000:]
    assert _runs(db) == [(run_id, True)]  # no second run, no ghost left registered
    assert resumed.stdout.startswith(run_id)
    assert f"Resuming {run_id}" in resumed.stderr
    assert f"{run_id} is registered but not clustered yet" in stopped_err
    assert "run the same command again to resume it" in stopped_err
    with sqlite3.connect(db) as connection:
        assert connection.execute(
            "SELECT count(*) FROM query_clusters WHERE run_id = ?", (run_id,)
        ).fetchone() == (600,)
    again = CliRunner().invoke(app, command[1:])
    assert again.exit_code == 0 and "Resuming" not in again.stderr  # a finished run is not
    assert len(_runs(db)) == 2
