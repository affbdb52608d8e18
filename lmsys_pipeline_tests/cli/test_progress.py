"""Live progress of the long commands, seen as a person sees it: each command runs from this
environment's ``lmsys`` entry point in a pseudo-terminal (a real tty) or piped, and the test
reads what the terminal received. Counts must grow while the command runs, before its result
is printed; piped, progress is a plain line at most every interval and ``--json`` stays JSON;
Ctrl-C mid-embed keeps the finished chunks and the next run (the same command in this process)
ends as an uninterrupted one."""

import json
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.cli.terminal import counts, in_terminal, piped
from lmsys_pipeline_tests.support.pipeline_data import clustered_copy

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]  # each test starts lmsys processes


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        **extra,
    }


def _loaded(tmp_path: Path, rows: int, name: str = "q.db") -> Path:
    path = tmp_path / name
    db = DatabaseManager(path)
    ingest_batches(db, open_source(None).batches(1000), limit=rows)
    db.dispose()
    return path


def _first(frames: list[str], text: str) -> int:
    return next(i for i, frame in enumerate(frames) if text in frame)


def _growing_before_the_end(frames: list[str], pattern: str, total: int, result: str) -> None:
    """The counts of ``pattern`` grow to ``total`` with at least one frame part way, drawn
    before the ``result`` line the command prints when it is done."""
    seen = counts(frames, pattern)
    assert seen == sorted(seen) and seen[-1] == total, seen
    assert any(0 < count < total for count in seen), seen
    part_way = next(
        i
        for i, f in enumerate(frames)
        if re.search(pattern, f) and 0 < counts([f], pattern)[0] < total
    )
    assert part_way < _first(frames, result)


def test_load_shows_rows_read_growing_in_a_terminal(tmp_path: Path):
    shown = in_terminal(["load", "--db-url", str(tmp_path / "q.db")], _env(tmp_path))
    assert shown.returncode == 0, shown.raw[-2000:]
    # The bundled sample's 16,645 rows come in batches of 10,000.
    _growing_before_the_end(shown.frames, r"load .*?([\d,]+) rows", 16_645, "Dagster run")
    assert "inserted 10,000, skipped 0" in shown.text and "rows/s" in shown.text


def test_quiet_shows_no_progress(tmp_path: Path):
    shown = in_terminal(
        ["load", "--limit", "500", "--quiet", "--db-url", str(tmp_path / "q.db")], _env(tmp_path)
    )
    assert shown.returncode == 0 and "Dagster run" in shown.text
    assert not any(frame.startswith(("load ", "✓ load", "⠋ load")) for frame in shown.frames)
    assert "rows/s" not in shown.text.split("Dagster run")[0]


def test_embed_shows_queries_covered_of_the_pending_total(tmp_path: Path):
    db = _loaded(tmp_path, 600)
    shown = in_terminal(["embed", "--chunk-size", "150", "--db-url", str(db)], _env(tmp_path))
    assert shown.returncode == 0, shown.raw[-2000:]
    _growing_before_the_end(shown.frames, r"embed .*?([\d,]+)/600 queries", 600, "Dagster run")
    assert "embed (load model)" in shown.text
    assert "embedded 150, reused" in shown.text and "on cpu" in shown.text


def test_cluster_shows_each_phase_and_counts_the_fit(tmp_path: Path, embedded_db_file):
    db = tmp_path / "q.db"
    shutil.copyfile(embedded_db_file, db)
    shown = in_terminal(
        ["cluster", "kmeans", "-k", "6", "--reduction", "pca", "--db-url", str(db)],
        _env(tmp_path),
    )
    assert shown.returncode == 0, shown.raw[-2000:]
    frames = shown.frames
    phases = [_first(frames, f"cluster ({phase})") for phase in ("load", "reduce", "fit", "write")]
    assert phases == sorted(phases)
    _growing_before_the_end(
        frames, r"cluster \(fit\).*?(\d+)/10 initialisations", 10, "clusters over 600 queries"
    )
    assert counts(frames, r"cluster \(write\).*?([\d,]+)/600 rows")[-1] == 600


def test_summarize_shows_clusters_done_requests_in_flight_and_tokens(
    tmp_path: Path, embedded_db_file
):
    from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

    db, run_id = clustered_copy(embedded_db_file, tmp_path, 8)
    with openai_server(ServerState(chat_latency=0.3)) as url:
        shown = in_terminal(
            f"summarize {run_id} --alias gpt --model openai/gpt-4o-mini --base-url {url} "
            f"--concurrency 2 --db-url {db}".split(),
            _env(tmp_path, OPENAI_API_KEY="sk-test"),
        )
    assert shown.returncode == 0, shown.raw[-2000:]
    _growing_before_the_end(shown.frames, r"summarize .*?(\d+)/8 clusters", 8, f"gpt on {run_id}")
    assert "in flight" in shown.text and "tokens" in shown.text and "cost $0.0" in shown.text


def test_piped_progress_is_a_plain_line_per_interval_and_json_stays_json(tmp_path: Path):
    started = time.monotonic()
    default = piped(["load", "--json", "--db-url", str(tmp_path / "a.db")], _env(tmp_path))
    elapsed = time.monotonic() - started
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["inserted"] == 16_645
    lines = [line for line in default.stderr.splitlines() if line.startswith("load: ")]
    # The first event is shown at once, then at most one line per 30 s however many batches.
    assert 1 <= len(lines) <= 1 + elapsed // 30
    assert "\x1b[" not in default.stderr  # no animation, no colours

    hourly = piped(
        ["load", "--json", "--db-url", str(tmp_path / "c.db")],
        _env(tmp_path, LMSYS_PROGRESS_SECONDS="3600"),
    )
    assert json.loads(hourly.stdout)["inserted"] == 16_645
    # Two batches, one interval that no run reaches: the first line only, whatever the speed.
    assert [line.split(" rows")[0] for line in hourly.stderr.splitlines()] == ["load: 10,000"]

    every = piped(
        ["load", "--json", "--db-url", str(tmp_path / "b.db")],
        _env(tmp_path, LMSYS_PROGRESS_SECONDS="0"),
    )
    assert json.loads(every.stdout)["inserted"] == 16_645
    assert [line.split(" rows")[0] for line in every.stderr.splitlines()] == [
        "load: 10,000",
        "load: 16,645",
    ]


def _stored(db: Path) -> tuple[set, set]:
    with sqlite3.connect(db) as connection:
        vectors = set(connection.execute("SELECT model, text_hash, vector FROM text_embeddings"))
        links = set(
            connection.execute(
                "SELECT q.query_id, t.text_hash FROM query_embeddings q "
                "JOIN text_embeddings t ON t.id = q.text_embedding_id"
            )
        )
    return vectors, links


def test_ctrl_c_mid_embed_keeps_chunks_and_the_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, minilm, monkeypatch
):
    from lmsys_pipeline.embedding.runner import embed_pending

    db, reference = _loaded(tmp_path, 600), _loaded(tmp_path, 600, "reference.db")
    env = _env(tmp_path)
    part_way = re.compile(r"embed .*?\b([1-4]\d\d|[1-9]\d)/600 queries")
    stopped = in_terminal(
        ["embed", "--chunk-size", "100", "--db-url", str(db)],
        env,
        until=lambda output: part_way.search(output.replace("\r", "\n")) is not None,
    )
    assert stopped.returncode == 130, stopped.raw[-2000:]
    assert "run the same command again to resume" in stopped.text
    kept = len(_stored(db)[1])
    assert kept % 100 == 0 and 100 <= kept < 600  # whole chunks only
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE

    # The same command again, in this process (what a terminal shows was checked above).
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    resumed = CliRunner().invoke(
        app, ["embed", "--chunk-size", "100", "--json", "--db-url", str(db)]
    )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["new_queries_embedded"] == 600 - kept

    manager = DatabaseManager(reference)
    embed_pending(manager, minilm, chunk_size=100)
    manager.dispose()
    assert _stored(db) == _stored(reference)


def test_export_counts_rows_written_in_chunks(results, tmp_path: Path, monkeypatch):
    """600 rows go out in chunks of 10,000, so there is one event; piped with an interval of
    0 every event is a line on stderr, and stdout stays JSON."""
    db, run_id = results
    monkeypatch.setattr("lmsys_pipeline.outputs.export.CHUNK", 250)
    monkeypatch.setenv("LMSYS_PROGRESS_SECONDS", "0")
    url = f"sqlite:///{db.engine.url.database}"
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--db-url", url, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 600
    assert [line.split(",")[0] for line in result.stderr.splitlines()] == [
        "export: 250 rows",
        "export: 500 rows",
        "export: 600 rows",
    ]
