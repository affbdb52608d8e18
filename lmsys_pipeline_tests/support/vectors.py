"""Vectors without a model: a hash embedder for the cache's logic, queries to embed with it,
synthetic blobs for the clustering algorithms, and the cache-equals-tables check."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import insert

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.embedding.cache import MANIFEST, model_folder
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import load_vectors_from_db


@dataclass
class HashEmbedder:
    """Deterministic unit vectors from a text's hash: the cache's logic without a model."""

    name: str = "hash-8"
    dimension: int = 8
    backend: str = "test"
    max_chars: int = 1_000

    def embed(self, texts: list[str]) -> np.ndarray:
        raw = [
            np.frombuffer(hashlib.sha256(f"{self.name}{t}".encode()).digest(), np.uint8)
            for t in texts
        ]
        vectors = np.stack(raw)[:, : self.dimension].astype(np.float32) - 127.5
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add_queries(db: DatabaseManager, start: int, count: int, distinct: int = 40) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            insert(Query),
            [
                {
                    "conversation_id": f"c{i}",
                    "model": "m",
                    "query_text": f"question {i % distinct}",
                    "language": "rare" if i % 10 == 0 else "common",
                    "created_at": datetime.now(UTC),
                }
                for i in range(start, start + count)
            ],
        )


def assert_cache_matches_tables(db: DatabaseManager, model: str, dimension: int) -> None:
    cached = load_vectors(db, model)
    assert not cached.vectors.flags.writeable  # the mapped file, never written through
    direct = load_vectors_from_db(db, model, dimension)
    np.testing.assert_array_equal(cached.query_ids, direct.query_ids)
    np.testing.assert_array_equal(cached.for_queries(), direct.for_queries())
    some = [*direct.query_ids[::7].tolist(), 10**9]
    subset, direct_subset = (
        load_vectors(db, model, some),
        load_vectors_from_db(db, model, dimension, some),
    )
    np.testing.assert_array_equal(subset.query_ids, direct_subset.query_ids)
    np.testing.assert_array_equal(subset.for_queries(), direct_subset.for_queries())


def manifest(db: DatabaseManager, model: str) -> dict:
    return json.loads((model_folder(db, model) / MANIFEST).read_text())


def blobs(n_per: int = 100, centers: int = 5, noise: int = 0, seed: int = 0) -> np.ndarray:
    """``centers`` well-separated Gaussian blobs of ``n_per`` points in 32 dimensions, plus
    ``noise`` scattered points."""
    rng = np.random.default_rng(seed)
    middles = rng.standard_normal((centers, 32)) * 3
    points = np.concatenate([m + rng.standard_normal((n_per, 32)) * 0.3 for m in middles])
    if noise:
        points = np.concatenate([points, rng.standard_normal((noise, 32)) * 3])
    return points
