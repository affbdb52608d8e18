"""Queries that arrive between re-clusterings join the latest run's nearest cluster.

After ingestion and embedding, every embedded query newer than the run's data snapshot
(``max_query_id``) and not yet assigned gets a ``query_clusters`` row in the run, labelled the
way the run labels queries outside its sampled fit (``clustering/assign.py``): KMeans by the
nearest centroid, confidence = cosine to it; HDBSCAN by the vote of the 10 most similar
members (noise members vote too, so a query like the run's noise stays noise), confidence =
the summed membership of those voting for the winner over 10 (0 for noise).
``assigned_after_fit`` marks the row.

*Novel*: the query's cosine to the nearest centroid is below the run's ``NOVEL_QUANTILE``
(10%) quantile of the same cosine for held-out members — 10% of the run's members (seeded)
whose nearest-centroid cosine is measured against centroids fitted on the other 90%. So about
1 in 10 queries like the run's own is flagged by chance, and a share well above that says the
data moved on; the re-clustering sensor watches it. Why 10%: the held-out cosines drop sharply
below their 5-10% quantile (one-off prompts in grab-bag clusters); on the bundled sample
(k=100, RESULTS.md) 10% flags 90% of a planted unseen topic and 9.8% of other new queries,
5% only 56% of the planted topic.
"""

from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import case, exists, func, insert, select

from lmsys_pipeline.clustering.assign import by_neighbour_vote
from lmsys_pipeline.clustering.runs import load_run, read_assignments, write_assignments
from lmsys_pipeline.db.assigned import AssignedAfterFit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, QueryCluster
from lmsys_pipeline.db.vectors import QueryEmbedding
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import StoredVectors
from lmsys_pipeline.vectors import CHUNK_ROWS, centroids

NOVEL_QUANTILE = 0.1
HELD_OUT = 0.1


@dataclass(frozen=True)
class LateStatus:
    """Where the latest run stands: queries assigned after its fit, how many of them are
    novel, and embedded queries newer than its snapshot that are still unassigned."""

    run_id: str | None
    assigned_after_fit: int = 0
    novel: int = 0
    unassigned: int = 0
    assigned_now: int = 0
    novel_now: int = 0
    threshold: float | None = None

    @property
    def novel_share(self) -> float:
        return self.novel / self.assigned_after_fit if self.assigned_after_fit else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "novel_share": self.novel_share}


def latest_run(db: DatabaseManager) -> ClusteringRun | None:
    """The newest materialized run whose checks passed (what new queries join)."""
    with db.get_session() as session:
        for run in session.execute(
            select(ClusteringRun).order_by(
                ClusteringRun.created_at.desc(), ClusteringRun.run_id.desc()
            )
        ).scalars():
            parameters = run.parameters or {}
            if parameters.get("status") == "materialized" and not parameters.get("failed_checks"):
                return run
    return None


def nearest_cosines(vectors: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's most similar centroid and that cosine, in chunks."""
    labels = np.empty(len(vectors), dtype=np.int64)
    best = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK_ROWS):
        similarity = vectors[start : start + CHUNK_ROWS] @ centres.T
        labels[start : start + CHUNK_ROWS] = np.argmax(similarity, axis=1)
        best[start : start + CHUNK_ROWS] = similarity.max(axis=1)
    return labels, best


def novelty_threshold(
    vectors: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    seed: int,
    quantile: float = NOVEL_QUANTILE,
) -> float:
    """The ``NOVEL_QUANTILE`` quantile of held-out members' nearest-centroid cosine, with
    centroids from the other members (``vectors[rows[i]]`` is member ``i``)."""
    held = np.random.default_rng(seed).random(len(labels)) < HELD_OUT
    if held.sum() < 2 or (~held).sum() < 2:
        held = np.zeros(len(labels), dtype=bool)
        held[::2] = True
    centres = centroids(vectors, labels[~held], rows[~held])
    _, best = nearest_cosines(vectors[rows[held]], centres)
    return float(np.quantile(best, quantile))


def _pending(db: DatabaseManager, run_id: str, max_query_id: int, stored: StoredVectors):
    assigned, labels = read_assignments(db, run_id)
    new = (stored.query_ids > max_query_id) & ~np.isin(stored.query_ids, assigned)
    position = np.searchsorted(stored.query_ids, assigned)
    found = position < len(stored.query_ids)
    found[found] = stored.query_ids[position[found]] == assigned[found]
    # the fitted members only (not queries assigned after the fit), noise included: it votes
    fitted = found & (assigned <= max_query_id)
    return np.flatnonzero(new), stored.rows[position[fitted]], labels[fitted], assigned[fitted]


def assign_new_queries(db: DatabaseManager, run_id: str | None = None) -> LateStatus:
    """Assigns the embedded queries newer than the run's snapshot (default: the latest run)
    that it has not assigned yet; one transaction. Returns the run's status afterwards."""
    run_id = run_id or getattr(latest_run(db), "run_id", None)
    if run_id is None:
        return LateStatus(None)
    run, params = load_run(db, run_id)
    max_query_id = (run.parameters or {}).get("max_query_id") or 0
    stored = load_vectors(db, params.embedding_model)
    new, member_rows, member_labels, member_ids = _pending(db, run_id, max_query_id, stored)
    threshold = None
    clustered = member_labels >= 0
    if len(new) and clustered.any():
        x = stored.vectors[stored.rows[new]]
        centres = centroids(stored.vectors, member_labels, member_rows)
        nearest, best = nearest_cosines(x, centres)
        if params.algorithm == "hdbscan":
            confidence = _stored_confidence(db, run_id, member_ids)
            both = np.concatenate([stored.vectors[member_rows], x])
            labels, scores = by_neighbour_vote(
                both, np.arange(len(member_rows)), member_labels, confidence
            )
            nearest, confidence = labels[len(member_rows) :], scores[len(member_rows) :]
        else:
            confidence = best
        threshold = novelty_threshold(
            stored.vectors, member_rows[clustered], member_labels[clustered], params.seed
        )
        _write(db, run_id, stored.query_ids[new], nearest, confidence, best, best < threshold)
        novel_now = int((best < threshold).sum())
    else:
        novel_now = 0
    return late_status(db, run_id, assigned_now=len(new), novel_now=novel_now, threshold=threshold)


def _stored_confidence(db: DatabaseManager, run_id: str, query_ids: np.ndarray) -> np.ndarray:
    with db.engine.connect() as connection:
        scores = dict(
            connection.execute(
                select(QueryCluster.query_id, QueryCluster.confidence_score).where(
                    QueryCluster.run_id == run_id
                )
            ).all()
        )
    return np.array([scores.get(int(q)) or 0.0 for q in query_ids], dtype=np.float32)


def _write(db, run_id, query_ids, labels, confidence, cosine, novel) -> None:
    with db.engine.begin() as connection:
        write_assignments(connection, run_id, query_ids, labels, confidence.astype(np.float64))
        connection.execute(
            insert(AssignedAfterFit),
            [
                {"run_id": run_id, "query_id": q, "cosine": c, "novel": n}
                for q, c, n in zip(query_ids.tolist(), cosine.tolist(), novel.tolist(), strict=True)
            ],
        )


def late_status(db: DatabaseManager, run_id: str | None = None, **now) -> LateStatus:
    """The run's (default: the latest run's) counts, without assigning anything."""
    run_id = run_id or getattr(latest_run(db), "run_id", None)
    if run_id is None:
        return LateStatus(None)
    run, params = load_run(db, run_id)
    max_query_id = (run.parameters or {}).get("max_query_id") or 0
    with db.engine.connect() as connection:
        assigned, novel = connection.execute(
            select(
                func.count(), func.coalesce(func.sum(case((AssignedAfterFit.novel, 1), else_=0)), 0)
            )
            .select_from(AssignedAfterFit)
            .where(AssignedAfterFit.run_id == run_id)
        ).one()
        unassigned = connection.execute(
            unassigned_count(run_id, params.embedding_model, max_query_id)
        ).scalar_one()
    return LateStatus(run_id, int(assigned), int(novel), int(unassigned), **now)


def unassigned_count(run_id: str, model: str, max_query_id: int):
    """Embedded queries newer than the snapshot with no row in the run. NOT EXISTS, an anti
    join: PostgreSQL runs ``NOT IN (subquery)`` as a per-row scan of the subquery once it no
    longer fits work_mem (a million assignments: minutes instead of a second)."""
    done = exists().where(
        QueryCluster.run_id == run_id, QueryCluster.query_id == QueryEmbedding.query_id
    )
    return (
        select(func.count())
        .select_from(QueryEmbedding)
        .where(
            QueryEmbedding.model == model,
            QueryEmbedding.query_id > max_query_id,
            ~done,
        )
    )
