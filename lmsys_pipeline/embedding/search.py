"""Exact semantic search: filter first, then rank by cosine similarity.

Filters (clustering run, clusters, language, LLM model) pick the candidate queries in SQL; only
their vectors are loaded and ranked, so a narrow filter still returns its top-k whenever that
many matches exist (the reference tool cut a global top-250 first and filtered afterwards).
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster
from lmsys_pipeline.db.vectors import EmbeddingModel, QueryEmbedding
from lmsys_pipeline.embedding.cache import set_aside
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import NotEmbedded, StoredVectors, load_vectors_from_db
from lmsys_pipeline.errors import UserError

if TYPE_CHECKING:
    from lmsys_pipeline.embedding.warm import WarmVectors

log = logging.getLogger(__name__)
# Cosines of unit vectors lie in [-1, 1]; float32 rounding stays far inside this margin.
SCORE_BOUND = 1.0 + 1e-3


@dataclass(frozen=True)
class SearchFilters:
    run_id: str | None = None
    cluster_ids: tuple[int, ...] = ()
    language: str | None = None
    llm_model: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.run_id or self.cluster_ids or self.language or self.llm_model)


@dataclass(frozen=True)
class SearchHit:
    query_id: int
    conversation_id: str
    score: float
    query_text: str
    model: str
    language: str | None
    cluster_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchError(UserError, ValueError):
    """A search that cannot run as asked, in one sentence."""


def require_some_vectors(db: DatabaseManager) -> None:
    """Refuses a search of a database where nothing was embedded, before a model loads."""
    with db.engine.connect() as connection:
        if connection.execute(select(EmbeddingModel.name).limit(1)).first() is None:
            raise NotEmbedded(
                "Nothing is embedded yet: run lmsys embed first (after lmsys load), then search."
            )


def _check_filters(db: DatabaseManager, filters: SearchFilters) -> None:
    if filters.cluster_ids and not filters.run_id:
        raise SearchError("--cluster-id needs --run-id: cluster ids belong to one clustering run.")
    if filters.run_id:
        with db.get_session() as session:
            if session.get(ClusteringRun, filters.run_id) is None:
                raise SearchError(
                    f"Clustering run {filters.run_id} does not exist (see lmsys runs)."
                )


def candidate_query_ids(db: DatabaseManager, model: str, filters: SearchFilters) -> list[int]:
    _check_filters(db, filters)
    statement = select(Query.id).join(
        QueryEmbedding, (QueryEmbedding.query_id == Query.id) & (QueryEmbedding.model == model)
    )
    if filters.run_id:
        statement = statement.join(QueryCluster, QueryCluster.query_id == Query.id).where(
            QueryCluster.run_id == filters.run_id
        )
        if filters.cluster_ids:
            statement = statement.where(QueryCluster.cluster_id.in_(filters.cluster_ids))
    if filters.language:
        statement = statement.where(Query.language == filters.language)
    if filters.llm_model:
        statement = statement.where(Query.model == filters.llm_model)
    with db.engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")]


def search(
    db: DatabaseManager,
    embedder: Embedder,
    text: str,
    *,
    top: int = 10,
    filters: SearchFilters = SearchFilters(),
    warm: "WarmVectors | None" = None,
) -> list[SearchHit]:
    """The ``top`` queries most similar to ``text`` among those the filters allow. Given
    ``warm`` (a long-lived process's held vectors), the candidates come from it instead of a
    SQL read and a cache read per call; the ranking is the same."""
    if not text.strip():
        raise SearchError("The search text is empty.")
    if warm is not None:
        return _warm_search(db, embedder, text, top, filters, warm)
    candidates: Sequence[int] | None = None
    if filters.active:
        candidates = candidate_query_ids(db, embedder.name, filters)
        if not candidates:
            return []
    stored = load_vectors(db, embedder.name, candidates)
    if not len(stored.query_ids):
        return []
    query_vector = embed_text(embedder, text)
    stored, per_query, valid = _checked_scores(db, stored, query_vector, candidates)
    best = valid[top_k(per_query[valid], top)]
    chosen = {int(stored.query_ids[i]): float(per_query[i]) for i in best}
    return _hits(db, chosen, filters.run_id)


def embed_text(embedder: Embedder, text: str) -> np.ndarray:
    return embedder.embed([text.strip()[: embedder.max_chars]])[0]


def _warm_search(
    db: DatabaseManager,
    embedder: Embedder,
    text: str,
    top: int,
    filters: SearchFilters,
    warm: "WarmVectors",
) -> list[SearchHit]:
    _check_filters(db, filters)
    stored, positions = warm.candidates(
        db,
        embedder.name,
        run_id=filters.run_id,
        cluster_ids=filters.cluster_ids,
        language=filters.language,
        llm_model=filters.llm_model,
    )
    if not len(positions):
        return []
    query_vector = embed_text(embedder, text)
    with np.errstate(invalid="ignore", over="ignore"):
        scores = stored.vectors @ query_vector
    per_query = scores[stored.rows[positions]]
    sound = _in_bounds(per_query, query_vector)
    if not sound.all():
        _warn_unsound(stored, positions[~sound])
    valid = np.flatnonzero(sound)
    best = valid[top_k(per_query[valid], top)]
    chosen = {int(stored.query_ids[positions[i]]): float(per_query[i]) for i in best}
    return _hits(db, chosen, filters.run_id)


def _scores(stored: StoredVectors, query_vector: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # damaged vectors: judged below
        return (stored.vectors @ query_vector)[stored.rows]


def _in_bounds(scores: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
    return np.abs(scores) <= SCORE_BOUND * float(np.linalg.norm(query_vector))  # NaN: False


def _checked_scores(
    db: DatabaseManager,
    stored: StoredVectors,
    query_vector: np.ndarray,
    candidates: Sequence[int] | None,
) -> tuple[StoredVectors, np.ndarray, np.ndarray]:
    """Each query's score and the positions of those that can be ranked. The last line of
    defence behind the cache's checksums: a score no unit vector can give comes from a
    damaged vector. From the cache, the tables are read instead (and the cache is set aside
    when they are sound); vectors damaged in the tables are left out, with one warning."""
    scores = _scores(stored, query_vector)
    sound = _in_bounds(scores, query_vector)
    if stored.from_cache and not sound.all():
        direct = load_vectors_from_db(db, stored.model, stored.dimension, candidates)
        direct_scores = _scores(direct, query_vector)
        direct_sound = _in_bounds(direct_scores, query_vector)
        if (~direct_sound).sum() < (~sound).sum():
            set_aside(db, stored.model, "gave similarity scores outside [-1, 1]")
        stored, scores, sound = direct, direct_scores, direct_sound
    if not sound.all():
        _warn_unsound(stored, np.flatnonzero(~sound))
    return stored, scores, np.flatnonzero(sound)


def _warn_unsound(stored: StoredVectors, positions: np.ndarray) -> None:
    log.warning(
        f"{len(positions)} stored vectors of {stored.model} are not finite or far from "
        f"unit length (e.g. query id {int(stored.query_ids[positions[0]])}), so they were left "
        "out of this search: delete those conversations with lmsys delete, then load and "
        "embed them again."
    )


def _hits(db: DatabaseManager, scores: dict[int, float], run_id: str | None) -> list[SearchHit]:
    statement = select(Query).where(Query.id.in_(list(scores)))
    clusters: dict[int, int] = {}
    with db.get_session() as session:
        queries = {q.id: q for q in session.execute(statement).scalars()}
        if run_id:
            clusters = dict(
                session.exec(
                    select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                        QueryCluster.run_id == run_id, QueryCluster.query_id.in_(list(scores))
                    )
                ).all()
            )
    return [
        SearchHit(
            query_id=query_id,
            conversation_id=queries[query_id].conversation_id,
            score=round(score, 4),
            query_text=queries[query_id].query_text,
            model=queries[query_id].model,
            language=queries[query_id].language,
            cluster_id=clusters.get(query_id),
        )
        for query_id, score in sorted(scores.items(), key=lambda item: -item[1])
    ]
