"""Embeds every query that has no vector for a model yet, each distinct text once.

Work goes in chunks of queries. A reader thread fetches the next chunk, hashes its texts and
looks up which are stored already while the model runs; the model embeds only the others that
the writer has not stored or taken meanwhile (``ChunkWriter.stored_lately``); a single writer
thread stores each chunk's new vectors and every query's link in one transaction while the
model encodes the next chunk. A run killed half-way keeps its committed chunks; the next run
starts after them and ends with exactly what an uninterrupted run would have stored. Chunk
sizes default to what suits the device (``embedder.chunk_size``: 4,096 on a CPU, more on a GPU).
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import DEFAULT_CHUNK, Embedder
from lmsys_pipeline.embedding.store import (
    Shard,
    count_pending,
    known_texts,
    pending_queries,
    register_model,
    text_hash,
    text_key,
)
from lmsys_pipeline.embedding.writer import ChunkWriter, WrittenChunk, prefetched
from lmsys_pipeline.progress import OnProgress, Progress, no_progress

__all__ = ["DEFAULT_CHUNK", "EmbedReport", "embed_pending"]


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

    def progress(self, device: str) -> Progress:
        """Queries covered of those pending at the start (blank ones count as done)."""
        return Progress(
            "embed",
            self.queries_covered + self.skipped_blank,
            self.pending_at_start,
            "queries",
            self.seconds,
            details={"embedded": self.texts_embedded, "reused": self.texts_reused, "on": device},
        )

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


@dataclass
class _Chunk:
    links: list[tuple[int, bytes]]
    texts: dict[bytes, str]
    blank: int
    stored: set[bytes]


def _prepared(db: DatabaseManager, model: str, rows: list[tuple[int, str]]) -> _Chunk:
    """A chunk's links and distinct texts, and which of those were stored at this moment."""
    chunk = _Chunk([], {}, 0, set())
    for query_id, text in rows:
        key = text_key(text)
        if not key:
            chunk.blank += 1
            continue
        digest = text_hash(key)
        chunk.links.append((query_id, digest))
        chunk.texts.setdefault(digest, key)
    if chunk.texts:
        with db.engine.connect() as connection:
            chunk.stored = set(known_texts(connection, model, list(chunk.texts)))
    return chunk


def embed_pending(
    db: DatabaseManager,
    embedder: Embedder,
    *,
    chunk_size: int | None = None,
    on_progress: OnProgress = no_progress,
    shard: Shard | None = None,
) -> EmbedReport:
    """Embeds every query (of ``shard``, if given) that has no vector for the model yet;
    ``on_progress`` hears the counts at the start and after each committed chunk."""
    register_model(db, embedder.name, embedder.dimension, embedder.backend)
    chunk_size = chunk_size or getattr(embedder, "chunk_size", DEFAULT_CHUNK)
    report = EmbedReport(
        embedder.name, embedder.dimension, pending_at_start=count_pending(db, embedder.name, shard)
    )
    device = str(getattr(embedder, "device", embedder.backend))
    started = time.perf_counter()
    on_progress(report.progress(device))

    def written(chunk: WrittenChunk) -> None:  # on the writer thread, in chunk order
        report.queries_covered += chunk.queries
        report.texts_embedded += chunk.texts_stored
        report.texts_reused += chunk.texts_reused
        report.seconds = time.perf_counter() - started
        on_progress(report.progress(device))

    writer = ChunkWriter(db, embedder.name, written)
    try:
        pending = pending_queries(db, embedder.name, chunk_size, shard)
        for chunk in prefetched(_prepared(db, embedder.name, rows) for rows in pending):
            report.skipped_blank += chunk.blank
            if not chunk.links:
                continue
            lately = writer.stored_lately(d for d in chunk.texts if d not in chunk.stored)
            missing = [d for d in chunk.texts if d not in chunk.stored and d not in lately]
            vectors = (
                embedder.embed([chunk.texts[d][: embedder.max_chars] for d in missing])
                if missing
                else np.empty((0, embedder.dimension), dtype=np.float32)
            )
            writer.submit(dict(zip(missing, vectors, strict=True)), chunk.links, len(chunk.texts))
    finally:
        writer.close()
    report.seconds = time.perf_counter() - started
    return report
