import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmsys_pipeline.ingestion.sources import SourceError, bundled_sample_path, open_source
from lmsys_pipeline_tests.support.rows import message, row, write_jsonl, write_parquet


def _rows(source: str | None, batch_size: int = 1000) -> int:
    return sum(len(batch) for batch in open_source(source).batches(batch_size))


def test_default_is_the_bundled_sample_with_its_notice():
    source = open_source(None)
    assert source.kind == "sample"
    assert _rows(None) == 16645
    notice = bundled_sample_path().parent / "NOTICE"
    assert "Banking77" in notice.read_text() and "HH-RLHF" in notice.read_text()


def test_bundled_sample_holds_no_lmsys_rows_and_invents_no_values():
    table = pq.read_table(bundled_sample_path()).to_pydict()
    prefixes = {cid.split("-")[0] for cid in table["conversation_id"]}
    assert prefixes == {"banking77", "arena", "hh"}
    assert set(table["model"]) == {"unknown"}
    assert set(table["source"]) == {"banking77", "arena_hard", "hh_rlhf"}
    assert set(table["language_source"]) == {"py3langid"}
    assert all(value is None for value in table["openai_moderation"])


def test_folder_and_glob_read_every_supported_file(tmp_path: Path):
    folder = tmp_path / "dump"
    (folder / "nested").mkdir(parents=True)
    write_parquet(folder / "a.parquet", [row("a1", [message("user", "x")])])
    write_jsonl(folder / "nested/b.jsonl", [row("b1", [message("user", "y")])] * 2)
    (folder / "README.txt").write_text("not data")
    assert _rows(str(folder)) == 3
    assert open_source(str(folder)).kind == "folder"
    assert _rows(str(folder / "**/*.jsonl")) == 2


def test_json_array_file(tmp_path: Path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([row("j1", [message("user", "x")]), row("j2", [])]))
    assert _rows(str(path)) == 2


def test_a_json_file_holding_json_lines_is_read_as_lines(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "rows.json", [row(f"l{i}", [message("user", "x")]) for i in range(3)]
    )
    assert _rows(str(path)) == 3


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/no/such/file.parquet", "does not exist"),
        ("./missing.jsonl", "does not exist"),
        ("/no/such/*.parquet", "matches no"),
    ],
)
def test_missing_sources_fail_with_one_sentence(spec: str, expected: str):
    with pytest.raises(SourceError) as error:
        _rows(spec)
    message_text = str(error.value)
    assert expected in message_text
    assert "\n" not in message_text and message_text.endswith(".")


def test_file_in_another_layout_says_what_is_expected(tmp_path: Path):
    pq.write_table(pa.table({"text": ["hi"], "label": [1]}), tmp_path / "other.parquet")
    write_jsonl(tmp_path / "other.jsonl", [{"prompt": "hi"}])  # type: ignore[list-item]
    for name in ("other.parquet", "other.jsonl"):
        with pytest.raises(SourceError, match="not in the LMSYS-Chat-1M layout"):
            _rows(str(tmp_path / name))


def test_unsupported_file_type(tmp_path: Path):
    (tmp_path / "rows.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match="unsupported file type"):
        open_source(str(tmp_path / "rows.csv"))


def test_unreachable_or_gated_hub_dataset_fails_with_advice():
    with pytest.raises(SourceError) as error:
        _rows("lmsys/lmsys-chat-1m")
    assert "HF_TOKEN" in str(error.value) and "local path" in str(error.value)
