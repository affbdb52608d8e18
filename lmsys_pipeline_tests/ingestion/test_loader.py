from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import select as sm_select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.rows import (
    EXPECTED_TYPED,
    typed_rows,
    untyped_rows,
    write_jsonl,
    write_parquet,
)


def _stored(db: DatabaseManager) -> dict[str, Query]:
    with db.get_session() as session:
        return {q.conversation_id: q for q in session.exec(sm_select(Query)).all()}


def _count(db: DatabaseManager) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Query)).scalar_one()


def _ingest(db: DatabaseManager, source: str, batch_size: int = 4, **kwargs):
    return ingest_batches(db, open_source(source).batches(batch_size), **kwargs)


@pytest.mark.parametrize("writer", [write_parquet, write_jsonl], ids=["parquet", "jsonl"])
def test_bad_input_is_skipped_and_counted_and_good_rows_kept(
    any_db: DatabaseManager, tmp_path: Path, writer
):
    path = writer(
        tmp_path / f"rows.{'parquet' if writer is write_parquet else 'jsonl'}", typed_rows()
    )
    report = _ingest(any_db, str(path))
    stored = _stored(any_db)
    assert {cid: q.query_text for cid, q in stored.items()} == EXPECTED_TYPED["inserted"]
    skipped = {str(k): v for k, v in report.skipped.items() if v}
    assert skipped == EXPECTED_TYPED["skipped"]
    assert report.rows_read == len(typed_rows())
    assert report.inserted + report.skipped_total == report.rows_read
    assert report.notes["nul_removed"] == 1 and report.notes["unknown_role"] == 1

    assert len(stored["long"].query_text) == 99_999  # trailing space stripped, nothing cut
    assert stored["capital-role"].model == "unknown" and stored["capital-role"].language is None
    assert stored["ok-1"].language == "English" and stored["ok-1"].model == "vicuna-13b"
    assert stored["flagged"].extra_metadata == {
        "num_user_turns": 1,
        "turn": 1,
        "redacted": False,
        "moderation_flagged": True,
        "moderation_categories": ["hate", "violence"],
    }
    assert stored["multi-turn"].extra_metadata == {
        "num_user_turns": 2,
        "turn": 2,
        "redacted": True,
        "moderation_flagged": False,
        "moderation_categories": [],
    }


def test_parquet_and_jsonl_paths_store_identical_rows(tmp_path: Path):
    """The column-wise parquet parser and the row-wise parser agree on every field."""
    results = []
    for name, writer in [("a.parquet", write_parquet), ("b.jsonl", write_jsonl)]:
        db = DatabaseManager(tmp_path / f"{name}.db")
        _ingest(db, str(writer(tmp_path / name, typed_rows())))
        results.append(
            {
                cid: (q.model, q.query_text, q.language, q.extra_metadata)
                for cid, q in _stored(db).items()
            }
        )
        db.dispose()
    assert results[0] == results[1]


def test_json_only_defects(sqlite_db: DatabaseManager, tmp_path: Path):
    path = write_jsonl(tmp_path / "untyped.jsonl", untyped_rows(), extra_lines=["{truncated"])
    report = _ingest(sqlite_db, str(path))
    stored = _stored(sqlite_db)
    assert {cid: q.query_text for cid, q in stored.items()} == {
        "json-string": "encoded as a string",
        "bare": "only required keys",
    }
    assert stored["bare"].model == "unknown"
    assert stored["bare"].extra_metadata["moderation_flagged"] is None
    assert {str(k): v for k, v in report.skipped.items() if v} == {
        "conversation_not_json": 1,
        "conversation_not_a_list": 2,
        "invalid_json_line": 1,
    }


def test_second_run_adds_nothing_and_limit_makes_it_incremental(any_db: DatabaseManager):
    first = _ingest(any_db, None, batch_size=1000, limit=2500)
    assert (first.inserted, _count(any_db)) == (2500, 2500)
    second = _ingest(any_db, None, batch_size=1000)
    assert second.inserted == 16645 - 2500
    assert second.skipped["already_stored"] == 2500
    third = _ingest(any_db, None, batch_size=1000)
    assert third.inserted == 0 and third.skipped["already_stored"] == 16645
    assert _count(any_db) == 16645


def test_a_run_killed_half_way_is_finished_by_the_next(sqlite_db: DatabaseManager):
    class Killed(Exception):
        pass

    def dying_batches():
        for index, batch in enumerate(open_source(None).batches(3000)):
            if index == 3:
                raise Killed
            yield batch

    with pytest.raises(Killed):
        ingest_batches(sqlite_db, dying_batches())
    partial = _count(sqlite_db)
    assert 0 < partial < 16645 and partial % 3000 == 0
    report = _ingest(sqlite_db, None, batch_size=3000)
    assert report.inserted == 16645 - partial
    assert _count(sqlite_db) == 16645


def test_report_counts_duplicate_texts_languages_and_models(
    sqlite_db: DatabaseManager, tmp_path: Path
):
    from lmsys_pipeline_tests.support.rows import message, row

    rows = [
        row(
            f"c{i}",
            [message("user", "same prompt" if i < 6 else f"prompt {i}")],
            model="gpt-4" if i % 2 else "claude-1",
            language="German" if i < 3 else "English",
        )
        for i in range(10)
    ]
    report = _ingest(sqlite_db, str(write_parquet(tmp_path / "dups.parquet", rows)))
    assert report.duplicate_text_share == pytest.approx(0.5)
    assert report.languages == {"English": 7, "German": 3}
    assert report.models == {"gpt-4": 5, "claude-1": 5}
    summary = report.as_dict()
    assert summary["inserted"] == 10 and summary["skipped_total"] == 0
