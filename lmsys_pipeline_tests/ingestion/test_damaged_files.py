"""Damaged sources: what can be read is kept, what cannot is named and counted, and the load
fails only when nothing at all was readable."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.ingestion.loader import UNREADABLE_ROWS, ingest_source
from lmsys_pipeline.ingestion.sources import SourceError, open_source
from lmsys_pipeline_tests.support.rows import TYPED_SCHEMA, message, row

runner = CliRunner()


def _rows(prefix: str, count: int) -> list[dict]:
    return [row(f"{prefix}-{i}", [message("user", f"{prefix} question {i}")]) for i in range(count)]


def _three_row_groups(path: Path) -> Path:
    table = pa.Table.from_pylist(_rows("group", 300), schema=TYPED_SCHEMA)
    pq.write_table(table, path, row_group_size=100, compression="snappy")
    return path


def _corrupt_row_group(path: Path, group: int) -> None:
    """Overwrites the middle of one row group's column data with garbage."""
    metadata = pq.ParquetFile(path).metadata.row_group(group)
    column = next(
        metadata.column(i)
        for i in range(metadata.num_columns)
        if metadata.column(i).path_in_schema.startswith("conversation")
    )
    start = column.data_page_offset + 8
    data = bytearray(path.read_bytes())
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def test_a_corrupt_row_group_loses_only_its_own_rows(sqlite_db, tmp_path: Path):
    path = _three_row_groups(tmp_path / "damaged.parquet")
    _corrupt_row_group(path, 1)
    report = ingest_source(sqlite_db, open_source(str(path)), batch_size=40)
    assert report.inserted == 200  # row groups 1 and 3
    assert report.skipped[UNREADABLE_ROWS] == 100
    [problem] = report.unreadable
    assert problem.path == str(path) and problem.part == "row group 2 of 3"
    assert problem.rows_lost == 100 and problem.cause
    assert "damaged.parquet: row group 2 of 3 could not be read" in problem.sentence()


def test_a_bad_file_in_a_folder_is_skipped_and_the_rest_read(sqlite_db, tmp_path: Path):
    folder = tmp_path / "source"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(_rows("a", 30), schema=TYPED_SCHEMA), folder / "a.parquet")
    (folder / "b.parquet").write_bytes(b"this is not parquet at all")
    (folder / "c.jsonl").write_text("\n".join(json.dumps(r) for r in _rows("c", 20)))
    (folder / "d.jsonl").write_text(json.dumps({"id": 1, "text": "another layout"}) + "\n")
    report = ingest_source(sqlite_db, open_source(str(folder)))
    assert report.inserted == 50
    assert sorted(Path(p.path).name for p in report.unreadable) == ["b.parquet", "d.jsonl"]


def test_nothing_readable_fails_with_the_file_and_the_cause(sqlite_db, tmp_path: Path):
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "x.parquet").write_bytes(b"garbage")
    (folder / "y.parquet").write_bytes(b"more garbage")
    with pytest.raises(SourceError) as failed:
        ingest_source(sqlite_db, open_source(str(folder)))
    message_text = str(failed.value)
    assert message_text.startswith("Nothing could be read from the source: ")
    assert (
        "x.parquet: the whole file could not be read (not a readable parquet file" in message_text
    )
    assert "(1 more problems)" in message_text


def test_a_truncated_gzip_keeps_the_lines_before_the_break(sqlite_db, tmp_path: Path):
    whole = gzip.compress("\n".join(json.dumps(r) for r in _rows("z", 2000)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    report = ingest_source(sqlite_db, open_source(str(path)), batch_size=100)
    assert 0 < report.inserted < 2000
    [problem] = report.unreadable
    assert problem.part.startswith("the rest after line")


def test_a_byte_order_mark_does_not_spoil_the_first_line(sqlite_db, tmp_path: Path):
    path = tmp_path / "bom.jsonl"
    lines = "\n".join(json.dumps(r) for r in _rows("bom", 3))
    path.write_bytes(b"\xef\xbb\xbf" + lines.encode())
    report = ingest_source(sqlite_db, open_source(str(path)))
    assert report.inserted == 3 and report.skipped_total == 0


def test_an_object_as_conversation_id_is_skipped_not_stored_as_its_repr(sqlite_db, tmp_path):
    path = tmp_path / "ids.jsonl"
    rows = [
        *_rows("ok", 2),
        row({"nested": 1}, [message("user", "dict id")]),
        row(["a", "b"], [message("user", "list id")]),
        row(42, [message("user", "number id is fine")]),
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    report = ingest_source(sqlite_db, open_source(str(path)))
    assert report.inserted == 3 and report.skipped["conversation_id_not_text"] == 2


def test_the_cli_names_what_it_skipped_and_still_loads(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    path = _three_row_groups(tmp_path / "damaged.parquet")
    _corrupt_row_group(path, 2)
    loaded = runner.invoke(app, ["load", "--source", str(path), "--db-url", str(tmp_path / "q.db")])
    assert loaded.exit_code == 0, loaded.output
    assert "Skipped" in loaded.output and "row group 3 of 3 could not be read" in loaded.output
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.parquet").write_bytes(b"garbage")
    failed = runner.invoke(
        app, ["load", "--source", str(tmp_path / "empty"), "--db-url", str(tmp_path / "q.db")]
    )
    assert failed.exit_code == 1
    assert failed.output.startswith("Error: Nothing could be read from the source: ")
    assert "x.parquet" in failed.output and "Traceback" not in failed.output
