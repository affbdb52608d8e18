"""How ``lmsys summarize`` ends: a run with no cluster labelled fails naming the endpoint, a
partial run says how to resume, and aliases and cluster ids are taken as users type them."""

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline_tests.openai_server import ServerState, openai_server, prompt_text

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
