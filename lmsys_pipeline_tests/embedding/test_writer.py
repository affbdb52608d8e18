"""The threads around the model: the next chunk is read while the model runs, one chunk is
written while the next is encoded, texts in flight are not embedded twice, and a failure on
any thread stops the run with nothing partial."""

import time

import numpy as np
import pytest
from sqlalchemy import func, select

from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding import writer as writer_module
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.store import load_vectors_from_db
from lmsys_pipeline.embedding.writer import prefetched
from lmsys_pipeline_tests.support.vectors import HashEmbedder, add_queries


def _count(db, table) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_prefetched_keeps_order_and_raises_where_the_producer_failed():
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise RuntimeError("source broke")

    seen = []
    with pytest.raises(RuntimeError, match="source broke"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]
    produced = []

    def endless():
        for i in range(10**6):
            produced.append(i)
            yield i

    for item in prefetched(endless()):
        if item == 3:
            break
    time.sleep(0.2)
    assert len(produced) < 10  # the reader stopped with the consumer


class SlowWrites:
    """Holds the first chunk's commit until the model has started on the next chunk."""

    def __init__(self, monkeypatch):
        self.events: list[str] = []
        original = writer_module.save_chunk

        def save_chunk(connection, model, new_vectors, links):
            first = min(q for q, _ in links)
            self.events.append(f"write {first} starts")
            deadline = time.monotonic() + 10
            while first == 1 and self.embed_calls() < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            original(connection, model, new_vectors, links)
            self.events.append(f"write {min(q for q, _ in links)} ends")

        monkeypatch.setattr(writer_module, "save_chunk", save_chunk)

    def embed_calls(self) -> int:
        return sum(event.startswith("embed") for event in self.events)


def test_writes_overlap_the_next_chunk_and_texts_in_flight_are_not_embedded_twice(
    sqlite_db, monkeypatch
):
    slow = SlowWrites(monkeypatch)
    embedded: list[str] = []
    inner = HashEmbedder()

    class Recording(HashEmbedder):
        def embed(self, texts):
            slow.events.append(f"embed {texts[0]}")
            embedded.extend(texts)
            return inner.embed(texts)

    add_queries(sqlite_db, 0, 40, distinct=12)  # every chunk of 10 repeats earlier texts
    report = embed_pending(sqlite_db, Recording(), chunk_size=10)
    assert report.queries_covered == 40 == _count(sqlite_db, QueryEmbedding)
    assert sorted(embedded) == sorted({f"question {i}" for i in range(12)})  # once each
    assert report.texts_embedded == 12 == _count(sqlite_db, TextEmbedding)
    # The model worked on chunk 2 while chunk 1 was being written.
    assert slow.events.index("embed question 10") < slow.events.index("write 1 ends")
    stored = load_vectors_from_db(sqlite_db, "hash-8", 8)
    np.testing.assert_allclose(
        stored.for_queries(), inner.embed([f"question {(i - 1) % 12}" for i in stored.query_ids])
    )


def test_a_failed_write_stops_the_run_and_keeps_whole_chunks_only(sqlite_db, monkeypatch):
    original = writer_module.save_chunk
    calls = []

    def failing_third(connection, model, new_vectors, links):
        calls.append(len(links))
        if len(calls) == 3:
            raise OSError("disk full")
        original(connection, model, new_vectors, links)

    monkeypatch.setattr(writer_module, "save_chunk", failing_third)
    add_queries(sqlite_db, 0, 60, distinct=60)
    with pytest.raises(OSError, match="disk full"):
        embed_pending(sqlite_db, HashEmbedder(), chunk_size=10)
    assert _count(sqlite_db, QueryEmbedding) == 20 == _count(sqlite_db, TextEmbedding)
    monkeypatch.undo()
    assert embed_pending(sqlite_db, HashEmbedder(), chunk_size=10).queries_covered == 40


def test_a_model_that_dies_leaves_the_submitted_chunks_committed(sqlite_db):
    class Dying(HashEmbedder):
        calls = 0

        def embed(self, texts):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt("killed")
            return super().embed(texts)

    add_queries(sqlite_db, 0, 50, distinct=50)
    with pytest.raises(KeyboardInterrupt):
        embed_pending(sqlite_db, Dying(), chunk_size=10)
    assert _count(sqlite_db, QueryEmbedding) == 20 == _count(sqlite_db, TextEmbedding)
