"""How ``lmsys summarize`` ends: a run with no cluster labelled fails naming the endpoint, a
partial run says how to resume, and aliases and cluster ids are taken as users type them."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server, prompt_text

runner = CliRunner()


def _cli(url: str, *args: str):
    return runner.invoke(app, [*args, "--db-url", url])


def test_every_request_failing_exits_1_naming_the_endpoint(results, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    dead = "http://127.0.0.1:9/v1"
    result = _cli(
        url,
        "summarize",
        run_id,
        "--alias",
        "dead",
        "--model",
        "openai/gpt-4o-mini",
        "--base-url",
        dead,
        "--max-retries",
        "0",
        "--timeout",
        "2",
    )
    assert result.exit_code == 1
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert error.startswith(
        f"Error: dead on {run_id}: No cluster of {run_id} was "
        f"labelled: every request to {dead} failed"
    )
    with db.get_session() as session:
        [entry] = session.execute(select(SummaryRun).where(SummaryRun.alias == "dead")).scalars()
    assert (entry.status, entry.clusters_done) == ("failed", 0)


def test_a_partial_run_says_how_many_failed_and_how_to_resume(results, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    state = ServerState()
    failing: set[str] = set()

    def one_cluster_fails(prompt: str) -> str:
        if not failing:
            failing.add(prompt)
        return "500" if prompt in failing else "ok"

    state.chat_behaviour = lambda prompt: one_cluster_fails(prompt)
    with openai_server(state) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        result = _cli(
            url,
            "summarize",
            run_id,
            "--alias",
            "part",
            "--model",
            "openai/gpt-4o-mini",
            "--base-url",
            server,
            "--max-retries",
            "0",
            "--json",
        )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["clusters_failed"]) == ("partial", 1)
    assert "1 of 6 clusters failed" in result.output
    assert "run the same command again to ask only for them" in result.output
    assert len({prompt_text(r) for r in state.chat_requests}) == 6


def test_aliases_in_any_script_and_the_noise_cluster_id(results, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    made = _cli(url, "summarize", run_id, "--alias", "résumé-日本", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["alias"] == "résumé-日本"
    listed = _cli(url, "list-clusters", run_id, "--alias", "résumé-日本", "--json")
    assert json.loads(listed.stdout)["summary_run"]["alias"] == "résumé-日本"
    noise = _cli(url, "inspect", run_id, "-1")
    assert noise.exit_code == 1 and "No such option" not in noise.output
    assert noise.output.startswith("Error:") and "-1" in noise.output


@pytest.mark.parametrize("kind, cause", [("html", "a web page"), ("empty", "an empty body")])
def test_html_or_empty_answers_are_failed_requests_in_one_sentence(
    results, tmp_path, monkeypatch, kind, cause
):
    """Status 200 with a web page (a login portal, a base URL missing /v1) or with nothing:
    each is a failed request with its cause, the ledger row is closed, one sentence."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    state = ServerState(chat_behaviour=lambda prompt: kind)
    with openai_server(state) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        result = _cli(
            url, "summarize", run_id, "--alias", "web", "--model", "openai/m",
            "--base-url", server, "--max-retries", "0",
        )  # fmt: skip
    assert result.exit_code == 1
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert f"every request to {server} failed" in error and cause in error
    assert "DagsterExecutionStepExecutionError" not in result.output
    assert "Traceback" not in result.output
    assert len(state.chat_requests) == 6  # one per cluster: such an answer is not asked again
    with db.get_session() as session:
        [entry] = session.execute(select(SummaryRun).where(SummaryRun.alias == "web")).scalars()
    assert (entry.status, entry.clusters_total, entry.clusters_failed) == ("failed", 6, 6)
    assert entry.requests == 6 and entry.finished_at is not None
    assert all(cause in reason for reason in entry.failures.values())


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _database_size(path: Path) -> int:
    """The SQLite file and its write-ahead log."""
    return sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*") if p.is_file())


def test_a_five_million_character_title_grows_nothing(results, tmp_path, monkeypatch):
    """The issue's server: every answer for one cluster is a 5,000,000-character one-word
    title. That cluster fails (read up to 1 MiB, asked again once); the database, the Dagster
    home and list-clusters stay small."""
    home = tmp_path / "elsewhere" / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    database = Path(db.engine.url.database)
    before = _database_size(database)
    poisoned: set[str] = set()

    def one_cluster_rambles(prompt: str) -> str:
        first = prompt.split("\n1. ", 1)[1].split("\n", 1)[0]
        poisoned.add(poisoned.pop() if poisoned else first)
        return "long_title" if first in poisoned else "ok"

    state = ServerState(chat_behaviour=one_cluster_rambles)
    with openai_server(state) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        made = _cli(
            url, "summarize", run_id, "--alias", "big", "--model", "openai/m",
            "--base-url", server, "--json",
        )  # fmt: skip
    assert made.exit_code == 0, made.output
    payload = json.loads(made.stdout)
    assert (payload["status"], payload["clusters_failed"], payload["requests"]) == (
        "partial", 1, 7,
    )  # fmt: skip
    [reason] = payload["failures"].values()
    assert reason == "invalid answer: the answer was larger than 1,048,576 bytes"
    grown = _database_size(database) - before
    assert grown < 2_000_000 and _size(home) < 20_000_000, (grown, _size(home))
    listed = _cli(url, "list-clusters", run_id, "--alias", "big", "--limit", "2", "--json")
    assert listed.exit_code == 0 and len(listed.stdout) < 20_000
