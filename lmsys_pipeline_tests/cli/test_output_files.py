"""Commands that write a file refuse a folder and an existing file (unless --force) in one
sentence, and never leave half a file."""

from pathlib import Path

from typer.testing import CliRunner

from lmsys_pipeline.cli import app

runner = CliRunner()


def test_export_to_a_folder_or_over_a_file_says_what_to_do(results, tmp_path: Path):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    folder = tmp_path / "out"
    folder.mkdir()

    into_folder = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", f"{folder}/", "--db-url", url]
    )
    assert into_folder.exit_code == 1
    assert into_folder.output.startswith(f"Error: {folder} is a folder: give a file name")
    assert "Traceback" not in into_folder.output

    target = folder / "run.csv"
    first = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--db-url", url]
    )
    assert first.exit_code == 0 and target.stat().st_size > 0
    target.write_text("keep me")
    again = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--db-url", url]
    )
    assert again.exit_code == 1 and "already exists: pass --force" in again.output
    assert target.read_text() == "keep me"
    forced = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--force", "--db-url", url]
    )
    assert forced.exit_code == 0 and target.read_text().startswith("query_id")
    assert sorted(p.name for p in folder.iterdir()) == ["run.csv"]  # no partial file left


def test_the_map_refuses_to_overwrite_too(results, tmp_path: Path):
    db, run_id = results
    existing = tmp_path / "map.html"
    existing.write_text("mine")
    result = runner.invoke(
        app, ["map", run_id, "-o", str(existing), "--db-url", f"sqlite:///{db.engine.url.database}"]
    )
    assert result.exit_code == 1 and "already exists: pass --force" in result.output
    assert existing.read_text() == "mine"
