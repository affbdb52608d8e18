"""Text that came from a dataset is printed literally: Rich markup in a query or a model name
is shown as written (never parsed, never a crash, never a hidden link) and terminal control
bytes are shown as escapes, never sent to the terminal."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.console import console, visible
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.pipeline_data import summarize
from lmsys_pipeline_tests.support.rows import message, row, write_parquet

CLOSING_TAG = "[/bold] closing tag oops, my card is blocked"
LINK = "[link=http://evil]click[/link] to fix my card payment"
TITLE_ESCAPE = "\x1b]0;pwned\x07 my card was declined"
runner = CliRunner()


@pytest.fixture
def hostile_results(sqlite_db, minilm, tmp_path: Path) -> tuple[str, str]:
    texts = [CLOSING_TAG, LINK, TITLE_ESCAPE]
    hostile = write_parquet(
        tmp_path / "hostile.parquet",
        [row(f"hostile-{i}", [message("user", text)], model="[/]") for i, text in enumerate(texts)],
    )
    ingest_batches(sqlite_db, open_source(None).batches(1000), limit=60)
    ingest_batches(sqlite_db, open_source(str(hostile)).batches(10))
    embed_pending(sqlite_db, minilm)
    run = register_run(sqlite_db, KMeansParams(n_clusters=2))
    materialize_run(sqlite_db, run.run_id)
    summarize(sqlite_db, run.run_id, "kw", label_quality_queries=0, max_queries=30)
    return f"sqlite:///{sqlite_db.engine.url.database}", run.run_id


def _cluster_of(url: str, run_id: str) -> str:
    found = runner.invoke(
        app, ["search", LINK, "-k", "1", "--run-id", run_id, "--db-url", url, "--json"]
    )
    import json

    return str(json.loads(found.stdout)[0]["cluster_id"])


def test_read_commands_print_hostile_text_literally(hostile_results, monkeypatch):
    url, run_id = hostile_results
    monkeypatch.setattr(console, "_width", 2000)  # one line per row, whatever the tty
    cluster = _cluster_of(url, run_id)
    for args in (
        ["search", "my card", "-k", "70"],
        ["search", "my card", "-k", "5", "--llm-model", "[/]"],
        ["list-clusters", run_id, "--show-examples", "40"],
        ["inspect", run_id, cluster, "--show-queries", "70"],
        ["runs"],
    ):
        result = runner.invoke(app, [*args, "--db-url", url])
        assert result.exit_code == 0, (args, result.output)
        assert "MarkupError" not in result.output and "Traceback" not in result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        if args[0] != "runs":
            flat = " ".join(result.output.split())
            assert "[link=http://evil]click[/link]" in flat, args
            assert "\\x1b]0;pwned\\x07" in flat, args
    searched = runner.invoke(app, ["search", "card", "-k", "70", "--db-url", url])
    assert "[/bold] closing tag oops" in " ".join(searched.output.split())


def test_visible_shows_control_characters_and_keeps_text():
    assert visible("a\x1b[2Jb\x07") == "a\\x1b[2Jb\\x07"
    assert visible("line one\nline\ttwo é 日本") == "line one\nline\ttwo é 日本"
    assert visible("abc\u202efed") == "abc\\u202efed"


def test_an_error_message_holding_markup_is_printed_as_written(tmp_path: Path):
    result = runner.invoke(app, ["inspect", "[/bold]", "0", "--db-url", str(tmp_path / "q.db")])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "Error: Clustering run [/bold] does not exist: lmsys runs lists them."
    )
