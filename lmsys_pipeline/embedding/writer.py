"""Threads around the model in ``embed_pending``: a reader that fetches the next chunk of
pending queries, and a single writer that commits finished chunks while the model encodes the
next one.

One writer keeps SQLite to a single writing connection and keeps commits in chunk order, so a
text embedded by chunk N is stored before chunk N+1 links to it. The reader looks up which of
its chunk's texts are stored already, up to a few chunks before the model gets to it; texts
submitted since then are either in flight (submitted, not committed) or among the last
``RECENT_CHUNKS`` chunks' commits, which the writer remembers: the model skips both instead of
embedding a text twice.
"""

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.store import known_texts, save_chunk

T = TypeVar("T")
_DONE = object()
# The reader runs at most two chunks ahead and the writer at most two behind, so a text stored
# after the reader's look-up was committed by one of the last four chunks; eight for margin.
RECENT_CHUNKS = 8


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items`` produced on a background thread, ``depth`` ahead of the consumer. An error
    raised by the producer is raised by the consumer, at its place in the sequence."""
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put((item, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            buffer.put((_DONE, error))
            return
        buffer.put((_DONE, None))

    thread = threading.Thread(target=produce, name="lmsys-embed-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.05)


@dataclass
class WrittenChunk:
    queries: int
    texts_stored: int
    texts_reused: int


@dataclass
class _Chunk:
    new_vectors: dict[bytes, np.ndarray]
    links: list[tuple[int, bytes]]
    distinct_texts: int


class ChunkWriter:
    """Commits chunks on one thread, in order, one transaction each. ``submit`` blocks while
    ``depth`` chunks already wait (the model never runs far ahead of the database) and
    re-raises a failed write; ``close`` waits for every submitted chunk."""

    def __init__(
        self,
        db: DatabaseManager,
        model: str,
        on_written: Callable[[WrittenChunk], None],
        depth: int = 1,
    ):
        self._db = db
        self._model = model
        self._on_written = on_written
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=max(1, depth))
        self._lock = threading.Lock()
        self._in_flight: dict[bytes, int] = {}
        self._recent: deque[set[bytes]] = deque(maxlen=RECENT_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lmsys-embed-writer", daemon=True)
        self._thread.start()

    def stored_lately(self, digests: Iterable[bytes]) -> set[bytes]:
        """The digests submitted but not yet committed, or committed by one of the last
        ``RECENT_CHUNKS`` chunks: what a look-up made before then may have missed."""
        with self._lock:
            return {
                digest
                for digest in digests
                if digest in self._in_flight or any(digest in chunk for chunk in self._recent)
            }

    def submit(
        self,
        new_vectors: dict[bytes, np.ndarray],
        links: list[tuple[int, bytes]],
        distinct_texts: int,
    ) -> None:
        self._raise_if_failed()
        with self._lock:
            for digest in new_vectors:
                self._in_flight[digest] = self._in_flight.get(digest, 0) + 1
        self._queue.put(_Chunk(new_vectors, links, distinct_texts))
        self._raise_if_failed()

    def close(self) -> None:
        """Waits until every submitted chunk is committed (or the writer failed)."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: nothing after a failed chunk is written
            try:
                written = self._write(chunk)
            except BaseException as error:  # handed to the model's thread, which re-raises it
                self._error = error
                continue
            finally:
                with self._lock:
                    self._recent.append(set(chunk.new_vectors))
                    for digest in chunk.new_vectors:
                        self._in_flight[digest] -= 1
                        if not self._in_flight[digest]:
                            del self._in_flight[digest]
            self._on_written(written)

    def _write(self, chunk: _Chunk) -> WrittenChunk:
        with self._db.engine.begin() as connection:
            # Another worker (a shard) may have stored some of these texts meanwhile: keep theirs.
            stored_now = known_texts(connection, self._model, list(chunk.new_vectors))
            new_vectors = {d: v for d, v in chunk.new_vectors.items() if d not in stored_now}
            save_chunk(connection, self._model, new_vectors, chunk.links)
        return WrittenChunk(
            queries=len(chunk.links),
            texts_stored=len(new_vectors),
            texts_reused=chunk.distinct_texts - len(new_vectors),
        )
