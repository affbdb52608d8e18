"""The bundled sample speaks LMSYS's language names; a hub stream that drops is reported as a
dropped connection, not as a gated dataset."""

import re

import pytest

from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import SourceError, open_source


def test_the_sample_stores_language_names_as_lmsys_does(sqlite_db):
    languages = set()
    for batch in open_source(None).batches(5_000):
        languages.update(batch.column("language").to_pylist())
    languages.discard(None)
    assert {"English", "Chinese", "Russian"} <= languages
    assert not [name for name in languages if re.fullmatch(r"[a-z]{2,3}", name)]


def test_searching_the_sample_by_language_name_finds_queries(embedded_db, minilm):
    from lmsys_pipeline.embedding.search import SearchFilters, search

    hits = search(embedded_db, minilm, "card", top=5, filters=SearchFilters(language="English"))
    assert len(hits) == 5 and {hit.language for hit in hits} == {"English"}


class _DroppingStream:
    """What datasets' streaming iterator does when the connection goes away mid-way (no hub
    can be reached from the tests, so the stream is simulated)."""

    def __iter__(self):
        for index in range(25):
            yield {
                "conversation_id": f"c{index}",
                "model": "vicuna-13b",
                "conversation": [{"role": "user", "content": f"question {index}"}],
            }
        raise ConnectionError("Connection reset by peer")


def test_a_dropped_hub_stream_keeps_what_was_read_and_says_run_again(sqlite_db, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: _DroppingStream())
    source = open_source("lmsys/lmsys-chat-1m")
    with pytest.raises(SourceError, match=r"dropped while streaming .* after 25 rows") as caught:
        ingest_batches(sqlite_db, source.batches(10))
    assert "gated" not in str(caught.value) and "run the same load again" in str(caught.value)
    with sqlite_db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT count(*) FROM queries").scalar_one()
    assert stored == 20  # the two full batches committed before the drop


def test_an_unreachable_hub_dataset_still_says_gated_or_unreachable(monkeypatch):
    import datasets

    def refuse(*args, **kwargs):
        raise ConnectionError("Couldn't reach the hub")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(SourceError, match="may be gated or unreachable"):
        list(open_source("lmsys/lmsys-chat-1m").batches(10))
