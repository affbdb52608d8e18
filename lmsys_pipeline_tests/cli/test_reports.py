"""What the compute commands print comes from what the work reported: no key they show may
be missing (a renamed metadata key would otherwise print ``None``)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.compute import EMBED_KEYS, LOAD_KEYS

runner = CliRunner()


def test_load_and_embed_report_every_field_they_print(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = str(tmp_path / "q.db")
    loaded = runner.invoke(app, ["load", "--limit", "120", "--db-url", db, "--json"])
    assert loaded.exit_code == 0, loaded.output
    report = json.loads(loaded.stdout)
    assert set(LOAD_KEYS) <= set(report) and None not in [report[k] for k in LOAD_KEYS]
    embedded = runner.invoke(app, ["embed", "--db-url", db, "--json"])
    assert embedded.exit_code == 0, embedded.output
    report = json.loads(embedded.stdout)
    assert set(EMBED_KEYS) <= set(report) and None not in [report[k] for k in EMBED_KEYS]
    assert (report["model"], report["new_queries_embedded"]) == ("all-MiniLM-L6-v2", 120)
    shown = runner.invoke(app, ["embed", "--db-url", db])
    assert shown.exit_code == 0 and "None" not in shown.output
