"""Loading a model's stored vectors, the one way every stage reads them: through the vector
cache (``cache.py``) when the database has one, else from the tables (``store.py``)."""

from collections.abc import Sequence

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.cache import cached_vectors
from lmsys_pipeline.embedding.store import StoredVectors, load_vectors_from_db, registered_dimension


def load_vectors(
    db: DatabaseManager, model: str, query_ids: Sequence[int] | None = None
) -> StoredVectors:
    """All stored vectors of ``model`` (or those of ``query_ids``), ready for numpy; query ids
    ascending. Read through the model's vector cache when the database has one: a full load
    brings the cache up to date first, a subset uses it only when it is already current."""
    dimension = registered_dimension(db, model)
    cached = cached_vectors(db, model, dimension, query_ids)
    if cached is not None:
        return cached
    return load_vectors_from_db(db, model, dimension, query_ids)
