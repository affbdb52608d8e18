from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lmsys_pipeline.ingestion import batch_parsing
from lmsys_pipeline.ingestion.batch_parsing import parse_batch
from lmsys_pipeline_tests.ingestion.rows import typed_rows, write_parquet


def _first_batch(path: Path):
    return next(pq.ParquetFile(path).iter_batches(batch_size=1000))


def test_typed_parquet_is_parsed_column_wise(tmp_path: Path, monkeypatch):
    def row_parser_must_not_run(_row):
        raise AssertionError("typed LMSYS parquet must take the column-wise path")

    monkeypatch.setattr(batch_parsing, "parse_row", row_parser_must_not_run)
    parsed = parse_batch(_first_batch(write_parquet(tmp_path / "t.parquet", typed_rows())))
    assert parsed.rows.height == 10  # 9 distinct good ids + the duplicate, dropped later
    assert parsed.rows.columns == list(batch_parsing.ROW_SCHEMA)


def test_string_encoded_conversations_take_the_row_path(tmp_path: Path):
    import json

    import pyarrow as pa

    table = pa.table(
        {
            "conversation_id": ["a", "b"],
            "conversation": [json.dumps([{"role": "user", "content": "hi"}]), "not json"],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    parsed = parse_batch(_first_batch(tmp_path / "s.parquet"))
    assert parsed.rows.get_column("query_text").to_list() == ["hi"]
    assert {str(k): v for k, v in parsed.skipped.items()} == {"conversation_not_json": 1}


@pytest.mark.parametrize("content", ["\x00", " \x00 \t", ""])
def test_text_that_is_only_nul_or_blank_is_empty(tmp_path: Path, content: str):
    from lmsys_pipeline_tests.ingestion.rows import message, row

    path = write_parquet(tmp_path / "n.parquet", [row("x", [message("user", content)])])
    parsed = parse_batch(_first_batch(path))
    assert parsed.rows.height == 0
    assert {str(k): v for k, v in parsed.skipped.items()} == {"empty_first_user_message": 1}
