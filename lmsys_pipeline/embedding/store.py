"""Reading and writing vectors: float32 bytes per distinct text, links per query.

Loading returns the distinct vectors once plus an index per query, so 1M queries that repeat
300k texts cost 300k vectors of memory, not 1M.
"""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, bindparam, exists, insert, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.db.vectors import EmbeddingModel, QueryEmbedding, TextEmbedding

LOOKUP_CHUNK = 5_000


def text_key(text: str) -> str:
    """What identifies a text for sharing vectors: the text with outer whitespace trimmed."""
    return text.strip()


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text_key(text).encode("utf-8"), digest_size=16).digest()


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


@dataclass
class StoredVectors:
    """Every query embedded with one model: ``vectors[rows[i]]`` is query ``query_ids[i]``."""

    model: str
    dimension: int
    query_ids: np.ndarray
    rows: np.ndarray
    vectors: np.ndarray

    def for_queries(self) -> np.ndarray:
        """One row per query (copies: use ``vectors[rows]`` lazily where memory matters)."""
        return self.vectors[self.rows]


def register_model(db: DatabaseManager, name: str, dimension: int, backend: str) -> None:
    """Records the model once; refuses a second dimension under the same name."""
    with db.get_session() as session:
        existing = session.get(EmbeddingModel, name)
        if existing is None:
            session.add(EmbeddingModel(name=name, dimension=dimension, backend=backend))
            session.commit()
        elif existing.dimension != dimension:
            raise ValueError(
                f"Model {name} was stored with dimension {existing.dimension}, now gives "
                f"{dimension}: embed under another model name."
            )


def pending_queries(db: DatabaseManager, model: str, chunk: int) -> Iterator[list[tuple[int, str]]]:
    """Queries without a vector for ``model``, by id, in chunks; safe to write between chunks."""
    last_id = 0
    has_vector = exists().where(
        QueryEmbedding.query_id == Query.id, QueryEmbedding.model == model
    )
    while True:
        statement = (
            select(Query.id, Query.query_text)
            .where(Query.id > last_id, ~has_vector)
            .order_by(Query.id)
            .limit(chunk)
        )
        with db.engine.connect() as connection:
            rows = [(int(i), text) for i, text in connection.execute(statement)]
        if not rows:
            return
        last_id = rows[-1][0]
        yield rows


def count_pending(db: DatabaseManager, model: str) -> int:
    from sqlalchemy import func

    has_vector = exists().where(
        QueryEmbedding.query_id == Query.id, QueryEmbedding.model == model
    )
    with db.engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(Query).where(~has_vector)
        ).scalar_one()


_FIND = select(TextEmbedding.text_hash, TextEmbedding.id).where(
    TextEmbedding.model == bindparam("model"),
    TextEmbedding.text_hash.in_(bindparam("hashes", expanding=True)),
)


def known_texts(connection: Connection, model: str, hashes: Sequence[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = list(hashes[start : start + LOOKUP_CHUNK])
        found.update({bytes(h): i for h, i in connection.execute(_FIND, {"model": model,
                                                                         "hashes": chunk})})
    return found


def save_chunk(
    connection: Connection,
    model: str,
    new_vectors: dict[bytes, np.ndarray],
    links: Iterable[tuple[int, bytes]],
) -> None:
    """Stores new text vectors and every (query id, text hash) link, in the caller's
    transaction: either all of a chunk lands or none of it."""
    if new_vectors:
        connection.execute(
            insert(TextEmbedding),
            [{"model": model, "text_hash": h, "vector": vector_bytes(v)}
             for h, v in new_vectors.items()],
        )
    links = list(links)
    ids = known_texts(connection, model, sorted({h for _, h in links}))
    connection.execute(
        insert(QueryEmbedding),
        [{"model": model, "query_id": query_id, "text_embedding_id": ids[h]}
         for query_id, h in links],
    )


def load_vectors(db: DatabaseManager, model: str,
                 query_ids: Sequence[int] | None = None) -> StoredVectors:
    """All stored vectors of ``model`` (or those of ``query_ids``), ready for numpy."""
    with db.get_session() as session:
        registered = session.get(EmbeddingModel, model)
    if registered is None:
        raise LookupError(f"No vectors are stored for model {model}: materialize "
                          "query_embeddings with it first (lmsys embed --model ...).")
    dimension = registered.dimension
    links = select(QueryEmbedding.query_id, QueryEmbedding.text_embedding_id).where(
        QueryEmbedding.model == model
    )
    with db.engine.connect() as connection:
        if query_ids is None:
            pairs = connection.execute(links.order_by(QueryEmbedding.query_id)).all()
        else:
            pairs = []
            wanted = sorted(set(int(i) for i in query_ids))
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                pairs += connection.execute(
                    links.where(QueryEmbedding.query_id.in_(chunk))
                ).all()
        ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        text_ids = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
        distinct = np.unique(text_ids)
        blobs: list[bytes] = []
        vector_ids: list[int] = []
        statement = select(TextEmbedding.id, TextEmbedding.vector).where(
            TextEmbedding.model == model
        )
        if query_ids is None:
            result = connection.execute(statement)
            for text_id, blob in result:
                vector_ids.append(text_id)
                blobs.append(blob)
        else:
            for start in range(0, len(distinct), LOOKUP_CHUNK):
                chunk = distinct[start : start + LOOKUP_CHUNK].tolist()
                for text_id, blob in connection.execute(
                    statement.where(TextEmbedding.id.in_(chunk))
                ):
                    vector_ids.append(text_id)
                    blobs.append(blob)
    vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimension)
    order = np.asarray(vector_ids, dtype=np.int64)
    sorter = np.argsort(order)
    rows = sorter[np.searchsorted(order, text_ids, sorter=sorter)] if len(order) else text_ids
    return StoredVectors(model, dimension, ids, rows.astype(np.int64), vectors)
