"""Two ``lmsys summarize`` of one alias at once (item 11 of issue 27): an ``lmsys`` process
and the same command in this process, against the loopback server, on SQLite and PostgreSQL.
The second refuses in one sentence naming the first; the server gets exactly one request per
cluster.

No sleeps: the server holds every answer until the test lets it go, so the first process is
certainly mid-run (its lease taken, its first request in) while the second one starts and
ends; the first then finishes."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.db.summaries import AliasLease, SummaryRun
from lmsys_pipeline_tests.support.leases import held_by
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

LMSYS = str(Path(sys.executable).parent / "lmsys")


@pytest.fixture(params=["sqlite", "postgresql"])
def clustered_any(request, tmp_path, minilm, built_once):
    """(database, its URL, a clustering run, its number of clusters) on either database."""
    if request.param == "sqlite":
        db, run_id = request.getfixturevalue("results")
        yield db, f"sqlite:///{db.engine.url.database}", run_id, 6
        return
    from lmsys_pipeline_tests.support.pipeline_data import results_once

    with results_once(request, built_once, minilm, tmp_path) as (db, [run_id, _]):
        yield db, db.url, run_id, 4


@pytest.mark.subprocess
def test_a_second_summarize_of_the_alias_refuses_while_the_first_runs(
    clustered_any, tmp_path, monkeypatch
):
    db, url, run_id, clusters = clustered_any
    state = ServerState(hold=threading.Event())
    with openai_server(state) as server:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "OPENAI_API_KEY": "sk-test",
        }
        command = [
            LMSYS, "summarize", run_id, "--alias", "gpt", "--model", "openai/m",
            "--base-url", server, "--db-url", url, "--timeout", "600", "--max-retries", "0",
        ]  # fmt: skip
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert state.arrived.wait(300), "the first summarize never asked the server"
            # The second one runs in this process: the first is a program of its own.
            for name in ("DAGSTER_HOME", "OPENAI_API_KEY"):
                monkeypatch.setenv(name, env[name])
            second = CliRunner().invoke(app, command[1:])
        finally:
            state.hold.set()
            _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-2000:]
    assert second.exit_code == 1 and second.stdout == ""
    [error] = second.stderr.strip().splitlines()
    assert error.startswith(
        f"Error: Alias gpt on {run_id} is being summarized by another process (pid {first.pid} "
    )
    assert error.endswith("wait for it to finish, then run the same command again.")
    assert len(state.chat_requests) == clusters  # exactly one request per cluster
    with db.get_session() as session:
        [entry] = session.execute(select(SummaryRun).where(SummaryRun.alias == "gpt")).scalars()
        assert (entry.status, entry.requests) == ("completed", clusters)
        assert session.execute(select(AliasLease)).all() == []  # released at the end


def test_merge_clusters_refuses_while_another_process_builds_the_alias_tree(
    sixty, tmp_path, monkeypatch
):
    """The hierarchy shares the risk, and the lease: the CLI refuses before anything runs."""
    db, run_id = sixty
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    holder = os.getppid()  # alive as long as this test runs
    held_by(db, "other", holder)
    with db.engine.begin() as connection:
        connection.execute(update(AliasLease).values(kind="hierarchy", run_id=run_id, alias="kw"))
    refused = CliRunner().invoke(
        app, ["merge-clusters", run_id, "--alias", "kw", "--db-url", str(db.engine.url)]
    )
    assert refused.exit_code == 1
    assert refused.output.startswith(
        f"Error: The hierarchy of kw on {run_id} is being built by another process (pid {holder}"
    )
    with db.engine.connect() as connection:
        assert connection.execute(select(HierarchyRun)).all() == []
