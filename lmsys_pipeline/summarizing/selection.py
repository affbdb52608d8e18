"""What the LLM sees of a cluster: its most central queries, a seeded random sample of the
rest, and the most central queries of the clusters nearest to it (by centroid cosine), so a
title can say what sets the cluster apart from its neighbours."""

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.clustering.runs import load_run, read_assignments
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, Query
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import text_key
from lmsys_pipeline.summarizing.params import SummaryInputError, SummaryParams
from lmsys_pipeline.vectors import centroids as cluster_centroids
from lmsys_pipeline.vectors import cosine_to_own_centroid

LOOKUP_CHUNK = 5_000
CANDIDATE_FACTOR = 3  # candidates fetched per wanted query, to survive de-duplication


@dataclass
class RunView:
    """A clustering run's queries with their vectors and centroids. ``vectors[rows[i]]`` is
    query ``query_ids[i]``'s vector; ``centrality[i]`` its cosine to its cluster's centroid."""

    run_id: str
    embedding_model: str
    query_ids: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    vectors: np.ndarray
    centroids: np.ndarray
    centrality: np.ndarray
    members: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def cluster_ids(self) -> list[int]:
        return sorted(self.members)

    def size(self, cluster_id: int) -> int:
        return len(self.members[cluster_id])

    def by_centrality(self, cluster_id: int) -> np.ndarray:
        members = self.members[cluster_id]
        return members[np.argsort(-self.centrality[members], kind="stable")]

    def nearest_clusters(self, cluster_id: int, count: int) -> list[int]:
        """The ``count`` other real clusters whose centroids are most similar."""
        if cluster_id == NOISE or count <= 0:
            return []
        similarity = self.centroids @ self.centroids[cluster_id]
        similarity[cluster_id] = -np.inf
        for empty in np.flatnonzero(~np.isin(np.arange(len(similarity)), self.cluster_ids)):
            similarity[empty] = -np.inf
        order = np.argsort(-similarity, kind="stable")[:count]
        return [int(c) for c in order if np.isfinite(similarity[c])]


def load_run_view(db: DatabaseManager, run_id: str) -> RunView:
    run, params = load_run(db, run_id)
    failed = (run.parameters or {}).get("failed_checks")
    if failed:
        raise SummaryInputError(
            f"Clustering run {run_id} failed its checks ({', '.join(failed)}), so it is not "
            "summarised: re-materialize it or make a new run with other settings."
        )
    query_ids, labels = read_assignments(db, run_id)
    if not len(query_ids):
        raise SummaryInputError(
            f"Clustering run {run_id} has no assignments yet: "
            "materialize its cluster_run partition first."
        )
    stored = load_vectors(db, params.embedding_model)
    position = np.searchsorted(stored.query_ids, query_ids)
    position = np.minimum(position, len(stored.query_ids) - 1)
    if not np.array_equal(stored.query_ids[position], query_ids):
        raise SummaryInputError(
            f"Some queries of {run_id} have no {params.embedding_model} "
            "vector any more: re-materialize query_embeddings."
        )
    rows = stored.rows[position]
    centroids = cluster_centroids(stored.vectors, labels, rows)
    centrality = cosine_to_own_centroid(stored.vectors, centroids, labels, rows)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    members = {int(labels[group[0]]): group for group in np.split(order, bounds) if len(group)}
    return RunView(
        run_id,
        params.embedding_model,
        query_ids,
        labels,
        rows,
        stored.vectors,
        centroids,
        centrality,
        members,
    )


def fetch_texts(db: DatabaseManager, query_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted({int(q) for q in query_ids})
    texts: dict[int, str] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            texts.update(
                connection.execute(
                    select(Query.id, Query.query_text).where(Query.id.in_(chunk))
                ).all()
            )
    return texts


def truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class ClusterBrief:
    cluster_id: int
    size: int
    queries: list[str]
    shown_query_ids: list[int]
    neighbors: dict[int, list[str]] = field(default_factory=dict)


def _candidates(view: RunView, cluster_id: int, params: SummaryParams) -> tuple[list, list]:
    """Member positions: the central ones in order, then a seeded random sample of the rest."""
    ranked = view.by_centrality(cluster_id)
    central_wanted = round(params.max_queries * params.central_share)
    if cluster_id == NOISE:
        central_wanted = 0
    central = ranked[: central_wanted * CANDIDATE_FACTOR]
    rest = ranked[len(central) :]
    rng = np.random.default_rng([params.seed, cluster_id + 1])
    sample_size = min(len(rest), params.max_queries * CANDIDATE_FACTOR)
    sampled = rng.choice(rest, size=sample_size, replace=False) if sample_size else rest[:0]
    return central.tolist(), sampled.tolist()


def _distinct(
    positions: list[int], texts: dict[int, str], view: RunView, count: int, seen: set[str]
) -> list[int]:
    chosen = []
    for position in positions:
        if len(chosen) == count:
            break
        key = text_key(texts[int(view.query_ids[position])]).casefold()
        if key not in seen:
            seen.add(key)
            chosen.append(position)
    return chosen


def build_briefs(
    db: DatabaseManager, view: RunView, params: SummaryParams, cluster_ids: Iterable[int]
) -> dict[int, ClusterBrief]:
    wanted = list(cluster_ids)
    neighbors = {c: view.nearest_clusters(c, params.contrast_neighbors) for c in wanted}
    involved = set(wanted) | {n for ns in neighbors.values() for n in ns}
    candidates = {c: _candidates(view, c, params) for c in involved}
    contrast_ranked = {
        c: view.by_centrality(c)[: params.contrast_examples * CANDIDATE_FACTOR] for c in involved
    }
    ids = {
        int(view.query_ids[p])
        for c in involved
        for p in [*candidates[c][0], *candidates[c][1], *contrast_ranked[c].tolist()]
    }
    texts = fetch_texts(db, ids)
    briefs = {}
    for cluster_id in wanted:
        central, sampled = candidates[cluster_id]
        seen: set[str] = set()
        central_count = round(params.max_queries * params.central_share)
        chosen = _distinct(central, texts, view, central_count, seen)
        chosen += _distinct(sampled + central, texts, view, params.max_queries - len(chosen), seen)
        shown = [int(view.query_ids[p]) for p in chosen]
        contrast = {}
        for neighbor in neighbors[cluster_id]:
            picks = _distinct(
                contrast_ranked[neighbor].tolist(), texts, view, params.contrast_examples, set()
            )
            contrast[neighbor] = [
                truncate(texts[int(view.query_ids[p])], params.max_query_chars) for p in picks
            ]
        briefs[cluster_id] = ClusterBrief(
            cluster_id,
            view.size(cluster_id),
            [truncate(texts[q], params.max_query_chars) for q in shown],
            shown,
            contrast,
        )
    return briefs
