"""Semantic search with the embedding model loaded once per server process and the vectors
held in memory (``lmsys search`` loads both per call); the search itself is ``lmsys
search``'s."""

import threading
from typing import Any

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL
from lmsys_pipeline.embedding.warm import WarmVectors
from lmsys_pipeline.reading.choice import require_run

# Searches ranked at once, each on one core (``one_core_each``). Embedding and the product
# over a million vectors each spread over every core (BLAS, torch): twenty at once thrashed 2
# cores (benchmarks/explorer.py, 20 users: search p95 25 s; 4.9 s with these limits on a
# machine loaded by other work, and 2.3x the requests served).
SEARCHES_AT_ONCE = 2


def one_core_each() -> None:
    """For the server's process (``lmsys serve``): numeric work on one core per request
    (BLAS and OpenMP pools, torch), so concurrent requests share the cores."""
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    torch.set_num_threads(1)


class WarmSearch:
    """Embedding models loaded once per server process, and the vectors searched
    (``embedding/warm.py``); ``ranking`` admits ``SEARCHES_AT_ONCE`` searches at a time."""

    def __init__(self, loaded: dict[str, Any] | None = None) -> None:
        self._loaded: dict[str, Any] = dict(loaded or {})
        self._lock = threading.Lock()
        self.vectors = WarmVectors()
        self.ranking = threading.BoundedSemaphore(SEARCHES_AT_ONCE)

    def model(self, name: str = DEFAULT_MODEL):
        with self._lock:
            if name not in self._loaded:
                from lmsys_pipeline.embedding.embedders import load_embedder

                self._loaded[name] = load_embedder(name)
            return self._loaded[name]


def search_model(db: DatabaseManager, run_id: str | None) -> str:
    """The run's embedding model (its vectors are the ones searched), else the default."""
    if not run_id:
        return DEFAULT_MODEL
    from lmsys_pipeline.clustering.registry import parse_stored

    return parse_stored(require_run(db, run_id)).embedding_model


def search(
    db: DatabaseManager,
    warm: WarmSearch,
    text: str,
    *,
    run_id: str | None,
    top_k: int,
    language: str | None,
    llm_model: str | None,
    cluster_ids: tuple[int, ...] = (),
) -> list:
    """``lmsys search``: exact cosine search, filters applied before ranking."""
    from lmsys_pipeline.embedding.search import SearchFilters, require_some_vectors
    from lmsys_pipeline.embedding.search import search as run_search

    filters = SearchFilters(
        run_id=run_id or None,
        cluster_ids=cluster_ids,
        language=language or None,
        llm_model=llm_model or None,
    )
    require_some_vectors(db)
    embedder = warm.model(search_model(db, run_id))
    with warm.ranking:
        return run_search(db, embedder, text, top=top_k, filters=filters, warm=warm.vectors)
