"""Reading and writing vectors: float32 bytes per distinct text, links per query.

Loading returns the distinct vectors once plus an index per query, so 1M queries that repeat
300k texts cost 300k vectors of memory, not 1M. Every write also moves the model's row in
``vector_versions`` (same transaction), which is how the vector cache next to the database
(``cache.py``) knows whether it still holds exactly what the tables hold. This module knows
nothing of the cache: ``loading.load_vectors``, above both, reads through the cache when there
is one and falls back to ``load_vectors_from_db`` here.
"""

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError

from lmsys_pipeline.db.bulk import driver_insert
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.db.vectors import (
    EmbeddingModel,
    QueryEmbedding,
    TextEmbedding,
    VectorVersion,
)
from lmsys_pipeline.errors import UserError

LOOKUP_CHUNK = 5_000
PARTITION_ROWS = 20_000


def text_key(text: str) -> str:
    """What identifies a text for sharing vectors: the text with outer whitespace trimmed."""
    return text.strip()


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text_key(text).encode("utf-8"), digest_size=16).digest()


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


@dataclass
class StoredVectors:
    """Every query embedded with one model: ``vectors[rows[i]]`` is query ``query_ids[i]``.
    ``from_cache``: read from the vector cache (verified), not from the tables."""

    model: str
    dimension: int
    query_ids: np.ndarray
    rows: np.ndarray
    vectors: np.ndarray
    from_cache: bool = False

    def for_queries(self) -> np.ndarray:
        """One row per query (copies: use ``vectors[rows]`` lazily where memory matters)."""
        return self.vectors[self.rows]


def register_model(db: DatabaseManager, name: str, dimension: int, backend: str) -> None:
    """Records the model once; refuses a second dimension under the same name."""
    with db.get_session() as session:
        existing = session.get(EmbeddingModel, name)
        if existing is None:
            session.add(EmbeddingModel(name=name, dimension=dimension, backend=backend))
            try:
                session.commit()
                return
            except IntegrityError:  # another worker registered it a moment ago
                session.rollback()
                existing = session.get(EmbeddingModel, name)
        if existing.dimension != dimension:
            raise ValueError(
                f"Model {name} was stored with dimension {existing.dimension}, now gives "
                f"{dimension}: embed under another model name."
            )


class Shard(NamedTuple):
    """Queries whose id modulo ``count`` is ``index``: one of ``count`` disjoint slices of the
    backlog that separate workers can embed at the same time."""

    index: int
    count: int

    def clause(self):
        return Query.id % self.count == self.index


def pending_queries(
    db: DatabaseManager, model: str, chunk: int, shard: Shard | None = None
) -> Iterator[list[tuple[int, str]]]:
    """Queries without a vector for ``model``, by id, in chunks; safe to write between chunks."""
    last_id = 0
    has_vector = exists().where(QueryEmbedding.query_id == Query.id, QueryEmbedding.model == model)
    while True:
        statement = (
            select(Query.id, Query.query_text)
            .where(Query.id > last_id, ~has_vector)
            .order_by(Query.id)
            .limit(chunk)
        )
        if shard is not None:
            statement = statement.where(shard.clause())
        with db.engine.connect() as connection:
            rows = [(int(i), text) for i, text in connection.execute(statement)]
        if not rows:
            return
        last_id = rows[-1][0]
        yield rows


def count_pending(db: DatabaseManager, model: str, shard: Shard | None = None) -> int:
    has_vector = exists().where(QueryEmbedding.query_id == Query.id, QueryEmbedding.model == model)
    statement = select(func.count()).select_from(Query).where(~has_vector)
    if shard is not None:
        statement = statement.where(shard.clause())
    with db.engine.connect() as connection:
        return connection.execute(statement).scalar_one()


_FIND = select(TextEmbedding.text_hash, TextEmbedding.id).where(
    TextEmbedding.model == bindparam("model"),
    TextEmbedding.text_hash.in_(bindparam("hashes", expanding=True)),
)


def known_texts(connection: Connection, model: str, hashes: Sequence[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = list(hashes[start : start + LOOKUP_CHUNK])
        found.update(
            {bytes(h): i for h, i in connection.execute(_FIND, {"model": model, "hashes": chunk})}
        )
    return found


def _dialect_insert(connection: Connection, table):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif connection.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        return None
    return dialect_insert(table)


class VersionState(NamedTuple):
    lineage: str
    version: int
    removals: int


def bump_version(connection: Connection, model: str, *, removal: bool = False) -> None:
    """Marks a change of ``model``'s vectors or links, in the caller's transaction (the row
    is created with a new lineage the first time). On PostgreSQL the row stays locked until
    the caller commits, so concurrent writers' changes are counted one after the other."""
    statement = _dialect_insert(connection, VectorVersion)
    if statement is None:
        raise NotImplementedError(f"vector versions on {connection.dialect.name}")
    table = VectorVersion.__table__
    connection.execute(
        statement.values(
            model=model, lineage=uuid.uuid4().hex, version=1, removals=int(removal)
        ).on_conflict_do_update(
            index_elements=["model"],
            set_={
                "version": table.c.version + 1,
                "removals": table.c.removals + int(removal),
            },
        )
    )


def read_version(connection: Connection, model: str) -> VersionState | None:
    row = connection.execute(
        select(VectorVersion.lineage, VectorVersion.version, VectorVersion.removals).where(
            VectorVersion.model == model
        )
    ).first()
    return VersionState(*row) if row is not None else None


def save_chunk(
    connection: Connection,
    model: str,
    new_vectors: dict[bytes, np.ndarray],
    links: Iterable[tuple[int, bytes]],
) -> None:
    """Stores new text vectors and every (query id, text hash) link, in the caller's
    transaction: either all of a chunk lands or none of it. Rows go to the driver's
    ``executemany`` as plain tuples (``db/bulk.py``)."""
    dialect = connection.dialect
    if new_vectors:
        # A worker embedding another shard may store the same text at the same moment: the
        # first vector wins and both link to it.
        driver_insert(
            dialect, "text_embeddings", ("model", "text_hash", "vector"), ("text_hash", "model")
        ).run(connection, [(model, h, vector_bytes(v)) for h, v in new_vectors.items()])
    links = list(links)
    ids = known_texts(connection, model, sorted({h for _, h in links}))
    driver_insert(dialect, "query_embeddings", ("model", "query_id", "text_embedding_id")).run(
        connection, [(model, query_id, ids[h]) for query_id, h in links]
    )
    bump_version(connection, model)  # last: the row lock is held only until the commit


def vector_partitions(
    connection: Connection, statement, dimension: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, float32 matrix) per partition of (id, blob) rows, streamed (one join per
    partition: joining a million blobs at once was slower than the read)."""
    # yield_per streams (a server-side cursor on PostgreSQL): without it psycopg fetches every
    # blob before the first partition, twice the vectors' size in memory at 1M.
    result = connection.execution_options(yield_per=PARTITION_ROWS).execute(statement)
    for partition in result.partitions(PARTITION_ROWS):
        part_ids, blobs = zip(*partition, strict=True)
        matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimension)
        yield np.asarray(part_ids, dtype=np.int64), matrix


def _read_vectors(connection: Connection, statement, count: int, dimension: int):
    """Streams (id, blob) rows into one preallocated float32 matrix."""
    vectors = np.empty((count, dimension), dtype="<f4")
    ids = np.empty(count, dtype=np.int64)
    filled = 0
    for part_ids, matrix in vector_partitions(connection, statement, dimension):
        size = min(len(part_ids), count - filled)
        if size <= 0:
            break
        ids[filled : filled + size] = part_ids[:size]
        vectors[filled : filled + size] = matrix[:size]
        filled += size
    return ids[:filled], vectors[:filled]


class NotEmbedded(UserError, LookupError):
    """No vectors are stored for the model asked for."""


def registered_dimension(db: DatabaseManager, model: str) -> int:
    with db.get_session() as session:
        registered = session.get(EmbeddingModel, model)
    if registered is None:
        raise NotEmbedded(
            f"No vectors are stored for model {model}: embed the queries with it first "
            f"(lmsys embed --model {model}, or materialize query_embeddings)."
        )
    return registered.dimension


def read_links(
    connection: Connection, model: str, after_query_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(query ids, text embedding ids) of ``model``'s links past ``after_query_id``, by id."""
    pairs = connection.execute(
        select(QueryEmbedding.query_id, QueryEmbedding.text_embedding_id)
        .where(QueryEmbedding.model == model, QueryEmbedding.query_id > after_query_id)
        .order_by(QueryEmbedding.query_id)
    ).all()
    query_ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    text_ids = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    return query_ids, text_ids


def load_vectors_from_db(
    db: DatabaseManager, model: str, dimension: int, query_ids: Sequence[int] | None = None
) -> StoredVectors:
    """``load_vectors`` straight from the tables, without any cache."""
    links = select(QueryEmbedding.query_id, QueryEmbedding.text_embedding_id).where(
        QueryEmbedding.model == model
    )
    vectors_of_model = select(TextEmbedding.id, TextEmbedding.vector).where(
        TextEmbedding.model == model
    )
    with db.engine.connect() as connection:
        if query_ids is None:
            pairs = connection.execute(links.order_by(QueryEmbedding.query_id)).all()
            count = connection.execute(
                select(func.count()).select_from(TextEmbedding).where(TextEmbedding.model == model)
            ).scalar_one()
            vector_ids, vectors = _read_vectors(connection, vectors_of_model, count, dimension)
        else:
            pairs = []
            wanted = sorted({int(i) for i in query_ids})
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                pairs += connection.execute(links.where(QueryEmbedding.query_id.in_(chunk))).all()
            pairs.sort(key=lambda pair: pair[0])
            distinct = sorted({pair[1] for pair in pairs})
            id_parts, vector_parts = [], []
            for start in range(0, len(distinct), LOOKUP_CHUNK):
                chunk = distinct[start : start + LOOKUP_CHUNK]
                part_ids, part_vectors = _read_vectors(
                    connection,
                    vectors_of_model.where(TextEmbedding.id.in_(chunk)),
                    len(chunk),
                    dimension,
                )
                id_parts.append(part_ids)
                vector_parts.append(part_vectors)
            vector_ids = np.concatenate(id_parts) if id_parts else np.empty(0, dtype=np.int64)
            vectors = (
                np.concatenate(vector_parts)
                if vector_parts
                else np.empty((0, dimension), dtype="<f4")
            )
    query_id_array = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    text_ids = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    sorter = np.argsort(vector_ids)
    rows = sorter[np.searchsorted(vector_ids, text_ids, sorter=sorter)] if len(sorter) else text_ids
    return StoredVectors(model, dimension, query_id_array, rows.astype(np.int64), vectors)
