"""``lmsys merge-clusters`` and the read commands on a hierarchy; a killed LLM hierarchy run
resumed by the same command."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

runner = CliRunner()
LMSYS = str(Path(sys.executable).parent / "lmsys")


@pytest.fixture
def sixty_file(hierarchy_db_file, tmp_path: Path, monkeypatch) -> tuple[str, str]:
    source, run_id = hierarchy_db_file
    shutil.copyfile(source, tmp_path / "q.db")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return str(tmp_path / "q.db"), run_id


def _ok(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_merge_clusters_offline_and_every_read_command_on_the_tree(sixty_file, tmp_path):
    db, run_id = sixty_file
    built = _ok(
        ["merge-clusters", run_id, "--alias", "kw", "--levels", "2", "--top", "6", "--db-url", db]
    )
    assert built.stdout.startswith("hier-agglomerative-")
    hierarchy_run_id = built.stdout.split()[0]
    assert "local/agglomerative" in built.stdout and "status: completed" in built.stdout
    assert "label_measures: {'member_fit':" in built.stdout
    shown = _ok(["show-hierarchy", run_id, "--alias", "kw", "--db-url", db]).stdout
    assert hierarchy_run_id in shown and "[cluster " in shown and "├─ " in shown
    tree = json.loads(_ok(["show-hierarchy", run_id, "--json", "--db-url", db]).stdout)
    assert tree["hierarchy"]["hierarchy_run_id"] == hierarchy_run_id
    roots = tree["roots"]
    assert sum(r["queries"] for r in roots) == 600
    assert {r["root"] for r in roots} <= {"top", "orphan: no parent fitted"}
    parents = [r for r in roots if r["root"] == "top"]
    for kin in [parents, *(p["children"] for p in parents)]:
        named = [n["title"].casefold() for n in kin if n["level"] > 0]
        assert len(named) == len(set(named)), named  # no two sibling parents share a title
    shallow = json.loads(
        _ok(["show-hierarchy", run_id, "--depth", "0", "--json", "--db-url", db]).stdout
    )
    assert all(isinstance(r.get("children", 0), int) for r in shallow["roots"])

    grouped = json.loads(
        _ok(
            ["list-clusters", run_id, "--alias", "kw", "--level", "1", "--json", "--db-url", db]
        ).stdout
    )
    clusters = [c["cluster_id"] for g in grouped["groups"] for c in g["clusters"]]
    assert sorted(clusters) == list(range(60))
    assert all(g["queries"] == sum(c["size"] for c in g["clusters"]) for g in grouped["groups"])
    assert (
        "groups at level 1"
        in _ok(["list-clusters", run_id, "--alias", "kw", "--level", "1", "--db-url", db]).stdout
    )
    too_deep = runner.invoke(
        app, ["list-clusters", run_id, "--alias", "kw", "--level", "9", "--db-url", db]
    )
    assert too_deep.exit_code == 1 and "levels 1 to" in too_deep.output

    exported = tmp_path / "x.csv"
    _ok(["export", run_id, "--alias", "kw", "--format", "csv", "-o", str(exported), "--db-url", db])
    header, *rows = exported.read_text().splitlines()
    assert header.endswith(
        "cluster_tags,cluster_flags,cluster_quality,cluster_coherence,cluster_notes,"
        "level_1_title,level_2_title"
    )
    assert len(rows) >= 600
    parquet = tmp_path / "x.parquet"
    _ok(
        [
            "export",
            run_id,
            "--alias",
            "kw",
            "--format",
            "parquet",
            "-o",
            str(parquet),
            "--db-url",
            db,
        ]
    )
    frame = pl.read_parquet(parquet)
    assert frame.height == 600 and frame["level_1_title"].null_count() < 600
    assert frame.schema["level_2_title"] == pl.String

    page = tmp_path / "map.html"
    mapped = _ok(
        ["map", run_id, "--alias", "kw", "-o", str(page), "--sample", "200", "--db-url", db]
    )
    assert "coloured by level 2" in " ".join(mapped.stdout.split())
    html = page.read_text()
    assert html.count("<details") >= 60 + 2 and 'class="examples"' in html
    flat = tmp_path / "flat.html"
    _ok(
        [
            "map",
            run_id,
            "--alias",
            "kw",
            "--level",
            "0",
            "-o",
            str(flat),
            "--sample",
            "200",
            "--db-url",
            db,
        ]
    )
    assert "coloured by cluster" in flat.read_text()
    wrong = runner.invoke(
        app,
        [
            "map",
            run_id,
            "--alias",
            "kw",
            "--level",
            "4",
            "-o",
            str(tmp_path / "w.html"),
            "--db-url",
            db,
        ],
    )
    assert wrong.exit_code == 1 and "levels 0 to 2" in wrong.output


def test_merge_clusters_refuses_what_cannot_be_built_in_one_line(sixty_file):
    db, run_id = sixty_file
    too_big = runner.invoke(
        app, ["merge-clusters", run_id, "--alias", "kw", "--top", "60", "--db-url", db]
    )
    assert too_big.exit_code == 1
    assert (
        too_big.output
        == "Error: --top 60 is not below the run's 60 clusters: ask for fewer parents.\n"
    )
    no_alias = runner.invoke(app, ["merge-clusters", run_id, "--alias", "zz", "--db-url", db])
    assert no_alias.exit_code == 1 and "no summary run with alias zz" in no_alias.output
    no_key = runner.invoke(
        app,
        [
            "merge-clusters",
            run_id,
            "--alias",
            "kw",
            "--model",
            "anthropic/claude-haiku-4-5",
            "--db-url",
            db,
        ],
    )
    assert no_key.exit_code == 1 and "ANTHROPIC_API_KEY" in no_key.output
    nothing = runner.invoke(app, ["show-hierarchy", run_id, "--alias", "kw", "--db-url", db])
    assert nothing.exit_code == 1 and "has no hierarchy for alias kw yet" in nothing.output


def _tree(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT cluster_id, parent_cluster_id, level, children_ids, title, description "
            "FROM cluster_hierarchies ORDER BY cluster_id"
        ).fetchall()


def _answers(db: Path) -> int:
    """Answers committed to the cache (the summaries' were answered offline: none)."""
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute("SELECT count(*) FROM llm_responses").fetchone()[0]


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_merge_clusters_resumes_asking_only_for_the_missing_answers(
    hierarchy_db_file, tmp_path: Path, monkeypatch
):
    """The uninterrupted run that gives the reference tree and the number of answers runs in
    this process (the same command, through CliRunner); the killed and the resumed run are
    ``lmsys`` processes."""
    source, run_id = hierarchy_db_file
    killed_db, whole_db = tmp_path / "killed.db", tmp_path / "whole.db"
    shutil.copyfile(source, killed_db)
    shutil.copyfile(source, whole_db)
    secret = "sk-test-SECRET-never-written-anywhere"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "OPENAI_API_KEY": secret,
        "HF_HUB_OFFLINE": "1",
    }

    def command(url: str, db: Path) -> list[str]:
        return [
            LMSYS,
            "merge-clusters",
            run_id,
            "--alias",
            "kw",
            "--model",
            "openai/gpt-4o-mini",
            "--levels",
            "3",
            "--top",
            "3",
            "--neighborhood-size",
            "20",
            "--base-url",
            url,
            "--concurrency",
            "2",
            "--db-url",
            str(db),
        ]

    whole_state = ServerState()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "whole_dagster_home"))
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with openai_server(whole_state) as url:
        _ok(command(url, whole_db)[1:])
    needed = len(whole_state.chat_requests)

    state = ServerState(chat_latency=0.2)
    with openai_server(state) as url:
        killed = subprocess.Popen(
            command(url, killed_db),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 180
        while (
            _answers(killed_db) < needed // 3
            and time.monotonic() < deadline
            and killed.poll() is None
        ):
            time.sleep(0.05)
        assert killed.poll() is None, "the run finished before it could be killed"
        killed.send_signal(signal.SIGKILL)
        first_out, first_err = killed.communicate()
        kept = _answers(killed_db)
        assert needed // 3 <= kept < needed
        asked_before = len(state.chat_requests)
        state.chat_latency = 0.0
        resumed = subprocess.run(command(url, killed_db), env=env, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert len(state.chat_requests) - asked_before == needed - kept
    assert _tree(killed_db) == _tree(whole_db)
    with sqlite3.connect(killed_db) as connection:
        ledger = connection.execute(
            "SELECT status, cached_responses, requests FROM hierarchy_runs"
        ).fetchall()
    assert len(ledger) == 1 and ledger[0][0] == "completed"
    assert ledger[0][1] == kept  # the resumed run found every kept answer in the cache
    assert "its process was killed" in resumed.stderr
    for text in (first_out, first_err, resumed.stdout, resumed.stderr):
        assert secret not in text
    for path in [killed_db, *(tmp_path / "dagster_home").rglob("*")]:
        assert path.is_dir() or secret.encode() not in path.read_bytes(), path
