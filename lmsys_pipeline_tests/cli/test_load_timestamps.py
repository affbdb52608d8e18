"""``lmsys load`` counts the timestamps it sets aside by reason, as it counts skipped rows:
in its table and in ``--json``; the rows themselves are kept."""

import json
from pathlib import Path

from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline_tests.support.rows import message, row, write_jsonl

runner = CliRunner()


def test_load_reports_timestamps_set_aside_by_reason(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    stamps = [1680998573, float("nan"), {"seconds": 1}, "soon", "9999-12-31", "2023-04-09"]
    source = write_jsonl(
        tmp_path / "stamped.jsonl",
        [
            row(f"c{i}", [message("user", f"question {i}")], timestamp=stamp)
            for i, stamp in enumerate(stamps)
        ],
    )
    db = tmp_path / "q.db"
    text = runner.invoke(app, ["load", "--source", str(source), "--db-url", str(db)])
    assert text.exit_code == 0, text.output
    for reason in ("timestamp_number", "timestamp_nan", "timestamp_object",
                   "timestamp_unreadable", "timestamp_out_of_range"):  # fmt: skip
        assert reason in text.output
    assert "5 timestamps set aside" in text.output
    again = runner.invoke(
        app, ["load", "--source", str(source), "--db-url", str(tmp_path / "r.db"), "--json"]
    )
    payload = json.loads(again.stdout)
    assert payload["inserted"] == 6 and payload["skipped"] == 0
    assert payload["row_notes"] == {
        "timestamp_nan": 1,
        "timestamp_number": 1,
        "timestamp_object": 1,
        "timestamp_out_of_range": 1,
        "timestamp_unreadable": 1,
    }
    assert payload["timestamps_set_aside"] == 5
