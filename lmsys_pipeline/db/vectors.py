"""Tables for embeddings, beside the seed's four: one vector per distinct text and model.

``text_embeddings`` holds each distinct (trimmed) query text's vector once per model, as
little-endian float32 bytes; ``query_embeddings`` points every query at its text's vector, so
LMSYS's many repeated prompts share one vector. ``embedding_models`` records each model's name
and dimension. A vector and the links to it are written in the same transaction, so a killed
run never leaves a query pointing at nothing. ``vector_versions`` counts the changes to each
model's vectors, so a cache of them outside the database knows when it is stale.
"""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from lmsys_pipeline.db.models import UTCDateTime, utc_now


class EmbeddingModel(SQLModel, table=True):
    __tablename__ = "embedding_models"

    name: str = Field(primary_key=True)
    dimension: int
    normalized: bool = True
    backend: str
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class TextEmbedding(SQLModel, table=True):
    __tablename__ = "text_embeddings"
    # Hash first: look-ups give both columns, while loading a whole model (``model = ?``) then
    # scans the table in storage order instead of hopping through the index at random, which
    # made reading 1M vectors from SQLite 2.5x slower.
    __table_args__ = (
        Index("uq_text_embeddings_text_hash_model", "text_hash", "model", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(
        sa_column=Column(
            String, ForeignKey("embedding_models.name", ondelete="CASCADE"), nullable=False
        )
    )
    text_hash: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class QueryEmbedding(SQLModel, table=True):
    __tablename__ = "query_embeddings"

    model: str = Field(
        sa_column=Column(
            String, ForeignKey("embedding_models.name", ondelete="CASCADE"), primary_key=True
        )
    )
    query_id: int = Field(
        sa_column=Column(Integer, ForeignKey("queries.id", ondelete="CASCADE"), primary_key=True)
    )
    text_embedding_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("text_embeddings.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )


class VectorVersion(SQLModel, table=True):
    """What the local vector caches (``embedding/cache.py``) compare with: one row per model,
    changed in the same transaction as every change to the model's vectors or links."""

    __tablename__ = "vector_versions"

    model: str = Field(
        sa_column=Column(
            String, ForeignKey("embedding_models.name", ondelete="CASCADE"), primary_key=True
        )
    )
    # A random token chosen when the row is created: a database rebuilt from scratch (or a
    # model dropped and re-created) starts a new lineage that no old cache matches.
    lineage: str
    version: int = 0  # +1 with every committed change
    removals: int = 0  # +1 with every deletion of vectors or links
