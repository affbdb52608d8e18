import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmsys_pipeline.ingestion import batch_parsing
from lmsys_pipeline.ingestion.batch_parsing import parse_batch
from lmsys_pipeline_tests.support.rows import typed_rows, write_parquet


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
    from lmsys_pipeline_tests.support.rows import message, row

    path = write_parquet(tmp_path / "n.parquet", [row("x", [message("user", content)])])
    parsed = parse_batch(_first_batch(path))
    assert parsed.rows.height == 0
    assert {str(k): v for k, v in parsed.skipped.items()} == {"empty_first_user_message": 1}


def test_a_timestamp_column_is_kept_as_utc_text_the_same_on_both_paths():
    def rows(stamp):
        return [
            {
                "conversation_id": "a",
                "conversation": [{"role": "user", "content": "hi"}],
                "timestamp": stamp,
            },
            {
                "conversation_id": "b",
                "conversation": [{"role": "user", "content": "yo"}],
                "timestamp": None,
            },
        ]

    plus_two = dt.timezone(dt.timedelta(hours=2))
    for stamp in (
        dt.datetime(2023, 4, 9, 0, 2, 53),
        dt.datetime(2023, 4, 9, 2, 2, 53, tzinfo=plus_two),
        "2023-04-09T02:02:53+02:00",
        "2023-04-09T00:02:53Z",
    ):
        columnar = parse_batch(pa.RecordBatch.from_pylist(rows(stamp))).rows
        by_row = parse_batch(rows(stamp)).rows
        assert columnar.equals(by_row), stamp
        extra = [json.loads(e) for e in columnar.get_column("extra_metadata")]
        assert [e["timestamp"] for e in extra] == ["2023-04-09T00:02:53", None]
    without = parse_batch(pa.RecordBatch.from_pylist([rows(None)[0] | {"timestamp": 1}]))
    assert json.loads(without.rows.get_column("extra_metadata")[0])["timestamp"] is None


def _stamped(values: list) -> list[dict]:
    return [
        {
            "conversation_id": f"c{i}",
            "conversation": [{"role": "user", "content": f"question {i}"}],
            "timestamp": value,
        }
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize(
    "values, set_aside",
    [
        ([1680998573, None, 1680998573000], {"timestamp_number": 2}),
        ([float("nan"), 1.68e9], {"timestamp_nan": 1, "timestamp_number": 1}),
        ([{"seconds": 1}, None], {"timestamp_object": 1}),
        ([True, False], {"timestamp_object": 2}),
        ([["2023-04-09"], None], {"timestamp_object": 1}),
        (["yesterday", "9999-12-31T00:00:00", "2023-04-09T00:02:53"], {
            "timestamp_unreadable": 1, "timestamp_out_of_range": 1,
        }),
        ([dt.datetime(9999, 12, 31), dt.datetime(1970, 1, 1), dt.datetime(2023, 4, 9)], {
            "timestamp_out_of_range": 2,
        }),
        ([dt.datetime.now() + dt.timedelta(days=3), dt.datetime(2000, 1, 1)], {
            "timestamp_out_of_range": 1,
        }),
    ],
)  # fmt: skip
def test_unusable_timestamps_are_counted_by_reason_the_same_on_both_paths(values, set_aside):
    rows = _stamped(values)
    columnar = parse_batch(pa.RecordBatch.from_pylist(rows))
    by_row = parse_batch(rows)
    assert columnar.rows.equals(by_row.rows)
    assert dict(columnar.notes) == dict(by_row.notes) == set_aside
    assert columnar.rows.height == len(values)  # the rows are kept, only the time is not
    extra = [json.loads(e) for e in columnar.rows.get_column("extra_metadata")]
    assert sum(e["timestamp"] is None for e in extra if "timestamp_set_aside" in e) == sum(
        set_aside.values()
    )
    assert Counter(e["timestamp_set_aside"] for e in extra if "timestamp_set_aside" in e) == (
        set_aside
    )
