"""``lmsys publish`` over a run with an offline hierarchy: the nested tree, the folded
clusters listed, no query text in the folder, and a one-sentence refusal; with an auditor on
the loopback OpenAI server: scores, the key from the environment, a refusal below 3, and a
real SIGKILL half-way through the audit, resumed asking only the unanswered fields."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.hierarchy import ClusterHierarchy
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline_tests.privacy.planted import build_planted, loaded_texts
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import build_tree

runner = CliRunner()


def test_publish_writes_the_tree_and_refuses_a_category_with_a_finding(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path, k=12)
    build_tree(db, run_id, "kw", embedder=minilm, top=3)
    url = f"sqlite:///{db.engine.url.database}"
    out = tmp_path / "site"
    args = ["publish", run_id, "--alias", "kw", "--out", str(out), "--db-url", url]
    result = runner.invoke(app, [*args, "--min-conversations", "8", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["hierarchy_run_id"] and summary["folded_nodes"] >= 1
    report = json.loads((out / "report.json").read_text())
    assert report["hierarchy"] and any(node["children"] for node in report["tree"])
    # trends: one row per top-level category (small clusters counted under their parent's top)
    rows = [r["title"] for r in report["trends"]["rows"] if r["title"] != "Other (small clusters)"]
    assert rows == [node["title"] for node in report["tree"]]
    assert report["withheld"] and all("why" in w for w in report["withheld"])
    texts = [t for t in loaded_texts(db) if len(t) >= 20]
    for path in out.iterdir():
        content = path.read_text()
        assert not [t for t in texts if t in content], path.name

    with db.engine.begin() as connection:
        connection.execute(
            update(ClusterHierarchy)
            .where(ClusterHierarchy.level == 1)
            .values(description="Requests from bob@example.org about invoices.")
        )
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith(f"Error: Publishing {run_id} --alias kw refused: personal data")
    assert "level-1 category" in message and "(email in its description)" in message
    assert "bob@example.org" not in message
    assert result.output.count("\n") <= 3  # one sentence (folded to the terminal's width)


def _score(prompt: str) -> dict:
    return {"score": 1 if "Alice Smith" in prompt else 5, "reason": "One sentence."}


def test_publish_audits_through_the_llm_options_and_refuses_a_low_score(
    sqlite_db, minilm, tmp_path, monkeypatch
):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-auditor")
    state = ServerState(chat_label=_score)
    with openai_server(state) as url:
        args = [
            "publish", run_id, "--alias", "kw", "--out", str(tmp_path / "site"),
            "--db-url", f"sqlite:///{db.engine.url.database}", "--audit-model",
            "openai/auditor", "--base-url", url, "--concurrency", "2", "--rpm", "6000",
            "--min-conversations", "1",
        ]  # fmt: skip
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        public = summary["public_nodes"]
        assert summary["audited"] == public == len(state.chat_requests) > 0
        assert summary["audit_model"] == "openai/auditor" and summary["audit_requests"] == public
        assert set(state.authorizations) == {"Bearer sk-test-auditor"}
        report = json.loads((tmp_path / "site" / "report.json").read_text())
        assert report["audit"] == {
            "model": "openai/auditor", "fields_scored": public, "lowest_score": 5
        }  # fmt: skip
        assert "audited by openai/auditor" in (tmp_path / "site" / "report.html").read_text()

        # One title renamed: only it is asked again, it scores 1 and publishing is refused.
        with db.engine.begin() as connection:
            cluster = (
                connection.execute(
                    select(ClusterSummary.cluster_id).where(ClusterSummary.run_id == run_id)
                )
                .scalars()
                .first()
            )
            connection.execute(
                update(ClusterSummary)
                .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster)
                .values(title="Visa letters for Alice Smith")
            )
        refused = runner.invoke(app, args)
    assert len(state.chat_requests) == public + 1
    assert refused.exit_code == 1
    message = " ".join(refused.output.split())
    assert f"openai/auditor scores the public fields of cluster {cluster} (score 1) below 3" in (
        message
    )
    assert "Alice Smith" not in message


@pytest.mark.slow
@pytest.mark.subprocess
def test_an_audit_killed_half_way_resumes_asking_only_the_unanswered(
    sqlite_db, minilm, tmp_path, monkeypatch
):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path, k=8)
    path = db.engine.url.database
    secret = "sk-test-SECRET-auditor"
    env = {**os.environ, "OPENAI_API_KEY": secret, "HOME": str(tmp_path)}
    state = ServerState(chat_label=_score, chat_latency=0.3)

    def answers() -> tuple[int, int]:
        with sqlite3.connect(path, timeout=30) as connection:
            try:
                sql = "SELECT count(*), count(DISTINCT prompt_hash) FROM llm_responses"
                return connection.execute(sql).fetchone()
            except sqlite3.OperationalError:  # not created yet
                return 0, 0

    assert answers() == (0, 0)
    with openai_server(state) as url:
        command = [
            str(Path(sys.executable).parent / "lmsys"), "publish", run_id, "--alias", "kw",
            "--out", str(tmp_path / "site"), "--db-url", f"sqlite:///{path}",
            "--min-conversations", "1", "--audit-model", "openai/auditor", "--base-url", url,
            "--concurrency", "1", "--quiet",
        ]  # fmt: skip
        killed = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while answers()[0] < 3 and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.02)
        assert killed.poll() is None, "the audit finished before it could be killed"
        killed.send_signal(signal.SIGKILL)
        first_out, first_err = killed.communicate()
        done_before = answers()[0]
        assert 3 <= done_before < 8
        asked_before = len(state.chat_requests)
        assert not (tmp_path / "site").exists()

        # The same command again, in this process: the killed one was the program.
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        resumed = runner.invoke(app, [*command[1:], "--json"])
        assert resumed.exit_code == 0, resumed.output[-2000:]
        asked_again = len(state.chat_requests) - asked_before
    summary = json.loads(resumed.stdout)
    assert summary["public_nodes"] == summary["audited"] == 8
    assert summary["audit_cached"] == done_before
    assert summary["audit_requests"] == asked_again == 8 - done_before
    assert answers() == (8, 8)  # one cached answer per field, none twice
    report = json.loads((tmp_path / "site" / "report.json").read_text())
    assert report["audit"]["fields_scored"] == 8
    for text in (first_out, first_err, resumed.stdout, resumed.stderr):
        assert secret not in text
