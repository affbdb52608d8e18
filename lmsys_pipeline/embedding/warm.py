"""Search candidates held warm in a long-lived process (the explorer).

``lmsys search`` asks SQL for every query id a filter allows and reads those vectors from the
cache, verifying their blocks, on every call: at a million queries most of a search's time and a
copy of the run's vectors per concurrent request. Here a model's vectors are read and verified
once and kept in memory, with each query's language and LLM model as codes, and each run's
members as a mask; all are read again when the stored vectors change (the model's vector
version) or when assignment rows were added (the largest assignment id), and a cluster filter
is always read fresh, since curation moves queries between clusters without either changing.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.db.vectors import QueryEmbedding
from lmsys_pipeline.embedding.cache_files import copied_out
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import StoredVectors, VersionState, read_version

HELD_RUNS = 16


@dataclass
class Codes:
    """One text column as small integer codes aligned to the held query ids."""

    codes: np.ndarray
    names: dict[str, int]

    def equal(self, value: str) -> np.ndarray:
        code = self.names.get(value)
        if code is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == code


@dataclass
class Held:
    state: VersionState
    stored: StoredVectors
    languages: Codes
    llm_models: Codes
    members: OrderedDict[str, tuple[int, np.ndarray]] = field(default_factory=OrderedDict)


def _codes(values: list[str | None]) -> Codes:
    names: dict[str, int] = {}
    codes = np.fromiter(
        (names.setdefault(v, len(names)) if v is not None else -1 for v in values),
        dtype=np.int32,
        count=len(values),
    )
    return Codes(codes, names)


def _in_memory(stored: StoredVectors) -> StoredVectors:
    """A copy that later changes to the cache files cannot reach (they were verified once),
    made without holding the map and the copy whole at once (``copied_out``)."""
    return StoredVectors(
        stored.model,
        stored.dimension,
        np.array(stored.query_ids),
        np.array(stored.rows),
        copied_out(stored.vectors),
        stored.from_cache,
    )


def _aligned(query_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The position in ``query_ids`` (ascending) of each of ``ids``; -1 where absent."""
    if not len(query_ids):
        return np.full(len(ids), -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(query_ids, ids), len(query_ids) - 1)
    return np.where(query_ids[position] == ids, position, -1)


def _columns(db: DatabaseManager, model: str, query_ids: np.ndarray) -> tuple[Codes, Codes]:
    statement = (
        select(Query.id, Query.language, Query.model)
        .join(QueryEmbedding, QueryEmbedding.query_id == Query.id)
        .where(QueryEmbedding.model == model)
    )
    languages: list[str | None] = [None] * len(query_ids)
    llm_models: list[str | None] = [None] * len(query_ids)
    with db.engine.connect() as connection:
        rows = connection.execute(statement).all()
    if rows:
        where = _aligned(query_ids, np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        for position, (_, language, llm_model) in zip(where.tolist(), rows, strict=True):
            if position >= 0:
                languages[position], llm_models[position] = language, llm_model
    return _codes(languages), _codes(llm_models)


class WarmVectors:
    """A model's vectors and filter columns, verified once and kept until they change."""

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()

    def candidates(
        self,
        db: DatabaseManager,
        model: str,
        *,
        run_id: str | None,
        cluster_ids: tuple[int, ...],
        language: str | None,
        llm_model: str | None,
    ) -> tuple[StoredVectors, np.ndarray]:
        """The held vectors and the positions (in their query ids) of the queries the
        filters allow: the same set ``candidate_query_ids`` selects in SQL."""
        with self._lock:
            held = self._current(db, model)
            keep = np.ones(len(held.stored.query_ids), dtype=bool)
            if run_id:
                keep &= self._members(db, held, run_id)
        if run_id and cluster_ids:
            with db.engine.connect() as connection:
                ids = connection.execute(
                    select(QueryCluster.query_id).where(
                        QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_(cluster_ids)
                    )
                ).scalars()
                in_clusters = np.zeros(len(keep), dtype=bool)
                where = _aligned(held.stored.query_ids, np.fromiter(ids, np.int64))
                in_clusters[where[where >= 0]] = True
            keep &= in_clusters
        if language:
            keep &= held.languages.equal(language)
        if llm_model:
            keep &= held.llm_models.equal(llm_model)
        return held.stored, np.flatnonzero(keep)

    def _current(self, db: DatabaseManager, model: str) -> Held:
        with db.engine.connect() as connection:
            state = read_version(connection, model)
        held = self._held.get(model)
        if held is not None and state is not None and held.state == state:
            return held
        self._held.pop(model, None)
        stored = _in_memory(load_vectors(db, model))
        languages, llm_models = _columns(db, model, stored.query_ids)
        held = Held(state or VersionState("", -1, -1), stored, languages, llm_models)
        if state is not None:
            self._held[model] = held
        return held

    def _members(self, db: DatabaseManager, held: Held, run_id: str) -> np.ndarray:
        with db.engine.connect() as connection:
            marker = connection.execute(select(func.max(QueryCluster.id))).scalar() or 0
            found = held.members.get(run_id)
            if found is not None and found[0] == marker:
                held.members.move_to_end(run_id)
                return found[1]
            ids = connection.execute(
                select(QueryCluster.query_id).where(QueryCluster.run_id == run_id)
            ).scalars()
            where = _aligned(held.stored.query_ids, np.fromiter(ids, np.int64))
        mask = np.zeros(len(held.stored.query_ids), dtype=bool)
        mask[where[where >= 0]] = True
        held.members[run_id] = (marker, mask)
        while len(held.members) > HELD_RUNS:
            held.members.popitem(last=False)
        return mask
