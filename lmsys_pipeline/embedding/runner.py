"""Embeds every query that has no vector for a model yet, each distinct text once.

Work goes in chunks of queries: look up which texts already have a vector, embed only the
others (outside any transaction), then store the new vectors and every query's link in one
transaction. A run killed half-way keeps its finished chunks; the next run starts after them
and ends with exactly what an uninterrupted run would have stored.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.embedding.store import (
    Shard,
    count_pending,
    known_texts,
    pending_queries,
    register_model,
    save_chunk,
    text_hash,
    text_key,
)

DEFAULT_CHUNK = 4_096


@dataclass
class EmbedReport:
    model: str
    dimension: int
    pending_at_start: int = 0
    queries_covered: int = 0
    texts_embedded: int = 0
    texts_reused: int = 0
    skipped_blank: int = 0
    seconds: float = 0.0

    @property
    def texts_per_second(self) -> float:
        return self.texts_embedded / self.seconds if self.seconds else 0.0

    @property
    def queries_per_second(self) -> float:
        return self.queries_covered / self.seconds if self.seconds else 0.0

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.pending_at_start - self.queries_covered - self.skipped_blank
        if not self.queries_covered or remaining <= 0:
            return None
        return remaining / self.queries_per_second

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dimension": self.dimension,
            "new_queries_embedded": self.queries_covered,
            "texts_embedded": self.texts_embedded,
            "texts_reused": self.texts_reused,
            "skipped_blank": self.skipped_blank,
            "seconds": round(self.seconds, 2),
            "texts_per_second": round(self.texts_per_second, 1),
        }


def embed_pending(
    db: DatabaseManager,
    embedder: Embedder,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    on_progress: Callable[[EmbedReport], None] | None = None,
    shard: Shard | None = None,
) -> EmbedReport:
    """Embeds every query (of ``shard``, if given) that has no vector for the model yet."""
    register_model(db, embedder.name, embedder.dimension, embedder.backend)
    report = EmbedReport(
        embedder.name, embedder.dimension, pending_at_start=count_pending(db, embedder.name, shard)
    )
    started = time.perf_counter()
    for rows in pending_queries(db, embedder.name, chunk_size, shard):
        links: list[tuple[int, bytes]] = []
        texts: dict[bytes, str] = {}
        for query_id, text in rows:
            key = text_key(text)
            if not key:
                report.skipped_blank += 1
                continue
            digest = text_hash(key)
            links.append((query_id, digest))
            texts.setdefault(digest, key)
        if not links:
            continue
        with db.engine.connect() as connection:
            known = known_texts(connection, embedder.name, list(texts))
        missing = [digest for digest in texts if digest not in known]
        vectors = (
            embedder.embed([texts[d][: embedder.max_chars] for d in missing])
            if missing
            else np.empty((0, embedder.dimension), dtype=np.float32)
        )
        with db.engine.begin() as connection:
            # Another writer may have stored some of these texts meanwhile: keep theirs.
            stored_now = known_texts(connection, embedder.name, missing)
            new_vectors = {
                d: v for d, v in zip(missing, vectors, strict=True) if d not in stored_now
            }
            save_chunk(connection, embedder.name, new_vectors, links)
        report.queries_covered += len(links)
        report.texts_embedded += len(new_vectors)
        report.texts_reused += len(texts) - len(new_vectors)
        report.seconds = time.perf_counter() - started
        if on_progress is not None:
            on_progress(report)
    report.seconds = time.perf_counter() - started
    return report
