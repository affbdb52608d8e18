import numpy as np
import pytest
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline_tests.embedding.conftest import load_rows
from lmsys_pipeline_tests.support.rows import LONG_TEXT


def _count(db: DatabaseManager, table) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_vectors_are_stored_once_and_match_the_model(sample_db, recording, minilm):
    report = embed_pending(sample_db, recording, chunk_size=64)
    assert report.queries_covered == 200 == _count(sample_db, QueryEmbedding)
    assert len(recording.texts_seen) == report.texts_embedded == _count(sample_db, TextEmbedding)

    stored = load_vectors(sample_db, minilm.name)
    with sample_db.engine.connect() as connection:
        texts = dict(connection.execute(select(Query.id, Query.query_text)).all())
    direct = minilm.embed([texts[int(i)].strip() for i in stored.query_ids[:20]])
    np.testing.assert_allclose(stored.for_queries()[:20], direct, atol=1e-5)

    again = embed_pending(sample_db, recording)
    assert (again.queries_covered, again.texts_embedded) == (0, 0)
    assert len(recording.texts_seen) == report.texts_embedded


def test_second_run_embeds_only_new_queries(sqlite_db, tmp_path, recording):
    load_rows(sqlite_db, tmp_path, [f"how do I bake bread number {i}" for i in range(30)], "a")
    assert embed_pending(sqlite_db, recording).queries_covered == 30
    load_rows(sqlite_db, tmp_path, [f"tips for growing tomatoes {i}" for i in range(12)], "b")
    recording.calls.clear()
    report = embed_pending(sqlite_db, recording)
    assert report.queries_covered == 12 and report.texts_embedded == 12
    assert all("tomatoes" in text for text in recording.texts_seen)


def test_identical_texts_share_one_vector(sqlite_db, tmp_path, recording):
    texts = [
        "What is the capital of France?",
        "  What is the capital of France?  ",
        "What is the capital of France?",
        "Write a haiku about rain",
    ] * 5
    load_rows(sqlite_db, tmp_path, texts)
    report = embed_pending(sqlite_db, recording)
    assert (report.queries_covered, report.texts_embedded) == (20, 2)
    assert sorted(recording.texts_seen) == [
        "What is the capital of France?",
        "Write a haiku about rain",
    ]
    stored = load_vectors(sqlite_db, recording.name)
    assert stored.vectors.shape == (2, 384) and len(stored.query_ids) == 20
    assert len(set(stored.rows.tolist())) == 2


def test_blank_texts_never_reach_the_model_and_long_ones_are_cut(sqlite_db, tmp_path, recording):
    load_rows(sqlite_db, tmp_path, ["short question", LONG_TEXT])
    with sqlite_db.get_session() as session:
        session.add(Query(conversation_id="blank", model="m", query_text="   "))
        session.commit()
    report = embed_pending(sqlite_db, recording)
    assert report.skipped_blank == 1 and report.queries_covered == 2
    assert all(text.strip() for text in recording.texts_seen)
    assert max(len(t) for t in recording.texts_seen) == recording.max_chars < len(LONG_TEXT)
    with sqlite_db.engine.connect() as connection:
        stored_long = connection.execute(
            select(func.length(Query.query_text)).where(Query.conversation_id == "c1")
        ).scalar_one()
    assert stored_long == len(LONG_TEXT.strip())


@pytest.mark.slow
def test_a_killed_run_is_completed_and_equals_an_uninterrupted_one(tmp_path, minilm, sample_db):
    from lmsys_pipeline_tests.embedding.conftest import RecordingEmbedder

    dying = RecordingEmbedder(minilm, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        embed_pending(sample_db, dying, chunk_size=50)
    assert _count(sample_db, QueryEmbedding) == 100  # two whole chunks, nothing partial
    assert _count(sample_db, TextEmbedding) == len(dying.texts_seen[: -len(dying.calls[-1])])
    finished = embed_pending(sample_db, RecordingEmbedder(minilm), chunk_size=50)
    assert finished.queries_covered == 100

    fresh = DatabaseManager(tmp_path / "fresh.db")
    from lmsys_pipeline.ingestion.loader import ingest_batches
    from lmsys_pipeline.ingestion.sources import open_source

    ingest_batches(fresh, open_source(None).batches(1000), limit=200)
    embed_pending(fresh, minilm, chunk_size=50)
    resumed, uninterrupted = load_vectors(sample_db, minilm.name), load_vectors(fresh, minilm.name)
    np.testing.assert_array_equal(resumed.query_ids, uninterrupted.query_ids)
    np.testing.assert_allclose(resumed.for_queries(), uninterrupted.for_queries(), atol=1e-5)
    fresh.dispose()
