"""Registering clustering runs and materializing them into ``query_clusters``.

Registration validates the parameters and records them, with a snapshot of the data (the
highest query id at that moment), before anything runs. Materializing reads them back, fits,
and replaces the run's assignments in one transaction: a failure leaves the previous rows (or
none), and re-materializing never duplicates.
"""

import time
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from lmsys_pipeline.clustering.fit import ClusterFit, ClusteringInputError
from lmsys_pipeline.clustering.params import RUN_ID_PATTERN, ClusteringParams, new_run_id
from lmsys_pipeline.clustering.registry import (
    algorithm_of,
    fit_clustering,
    params_from_run_id,
    parse_stored,
)
from lmsys_pipeline.db.assigned import AssignedAfterFit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, ClusteringRun, Query, QueryCluster
from lmsys_pipeline.db.vectors import QueryEmbedding
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.progress import OnProgress, Progress, Stopwatch, no_progress

SILHOUETTE_SAMPLE = 5_000
INSERT_CHUNK = 50_000
# Facts of the fit recorded beside the parameters: how many queries the reduction and the
# algorithm were fitted on (the rest were assigned), and whether UMAP fell back to PCA.
RECORDED_DETAILS = ("fitted_rows", "reduction_fallback")


class RunNotFound(UserError, LookupError):
    pass


def embedded_query_count(db: DatabaseManager, model: str) -> int:
    with db.engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(QueryEmbedding).where(QueryEmbedding.model == model)
        ).scalar_one()


def distinct_vector_count(db: DatabaseManager, model: str, limit: int | None) -> int:
    """How many different vectors the run would cluster (identical texts share one)."""
    links = select(QueryEmbedding.text_embedding_id).where(QueryEmbedding.model == model)
    if limit is not None:
        links = links.order_by(QueryEmbedding.query_id).limit(limit)
    links = links.subquery()
    with db.engine.connect() as connection:
        return connection.execute(
            select(func.count(func.distinct(links.c.text_embedding_id)))
        ).scalar_one()


def check_feasible(db: DatabaseManager, params: ClusteringParams) -> ClusteringParams:
    """Refuses, before anything is written, a run that cannot work on the data at hand;
    returns ``params`` with a size left to the default made explicit for that data."""
    available = embedded_query_count(db, params.embedding_model)
    if params.limit is not None:
        available = min(available, params.limit)
    if available == 0:
        raise ClusteringInputError(
            f"There are no queries embedded with {params.embedding_model} to cluster: run "
            "lmsys load and lmsys embed first."
        )
    chosen = algorithm_of(params)
    params = chosen.sized_for(params, available)
    if available < chosen.size(params):
        raise ClusteringInputError(
            chosen.too_few_queries.format(available=available, size=chosen.size(params))
        )
    if chosen.fills_every_cluster:
        distinct = distinct_vector_count(db, params.embedding_model, params.limit)
        if distinct < chosen.size(params):
            raise ClusteringInputError(
                f"The {available:,} embedded queries hold only {distinct:,} distinct texts, "
                f"fewer than the {chosen.size(params):,} clusters asked for (identical texts "
                "share a vector, so some clusters would stay empty): lower --n-clusters."
            )
    return params


ID_ATTEMPTS = 5


def register_run(
    db: DatabaseManager,
    params: ClusteringParams,
    *,
    description: str | None = None,
    run_id: str | None = None,
) -> ClusteringRun:
    params = check_feasible(db, params)
    for _ in range(ID_ATTEMPTS if run_id is None else 1):
        try:
            return _register(db, params, description, run_id)
        except IntegrityError:
            if run_id is not None:
                raise UserError(f"Clustering run {run_id} is already registered.") from None
            # another process registered the same id in the same second: take the next suffix
    raise RuntimeError("Could not pick a free run id: too many runs registered at once.")


def _register(
    db: DatabaseManager, params: ClusteringParams, description: str | None, run_id: str | None
) -> ClusteringRun:
    with db.get_session() as session:
        if run_id is None:
            existing = set(session.execute(select(ClusteringRun.run_id)).scalars())
            chosen = algorithm_of(params)
            run_id = new_run_id(chosen.name, chosen.size(params), existing)
        elif session.get(ClusteringRun, run_id) is not None:
            raise UserError(f"Clustering run {run_id} is already registered.")
        max_query_id = session.execute(select(func.max(Query.id))).scalar_one()
        run = ClusteringRun(
            run_id=run_id,
            algorithm=params.algorithm,
            num_clusters=algorithm_of(params).size(params)
            if algorithm_of(params).fills_every_cluster
            else None,
            parameters={**params.model_dump(), "max_query_id": max_query_id},
            description=description,
        )
        session.add(run)
        session.commit()
        session.refresh(run)
        return run


def prepare_run(
    db: DatabaseManager,
    *,
    run_id: str | None = None,
    params: ClusteringParams | None = None,
    description: str | None = None,
) -> ClusteringRun:
    """The one way a clustering run comes to exist, for the CLI, the asset and the schedule.

    A registered ``run_id`` is returned as it is (its recorded parameters are what make it
    reproducible). An unregistered ``run_id`` (a partition added by hand) is registered with
    ``params``, or with the parameters its key implies (``kmeans-50-...``). No ``run_id``: a new
    id is made for ``params``.
    """
    if run_id is not None:
        try:
            return load_run(db, run_id)[0]
        except RunNotFound:
            params = params or params_from_run_id(run_id)
        if not RUN_ID_PATTERN.fullmatch(run_id):
            raise UserError(
                f"Run id {run_id!r} must start with a letter or digit and hold only letters, "
                "digits, '.', '_' and '-' (it becomes part of partition keys)."
            )
        if params is None:
            raise UserError(
                f"Clustering run {run_id} is not registered and its key does not say how to "
                "cluster: give algorithm and n_clusters or min_cluster_size as config."
            )
    elif params is None:
        raise TypeError("prepare_run needs a run_id or params")
    return register_run(db, params, description=description, run_id=run_id)


def load_run(db: DatabaseManager, run_id: str) -> tuple[ClusteringRun, ClusteringParams]:
    with db.get_session() as session:
        run = session.get(ClusteringRun, run_id)
    if run is None:
        raise RunNotFound(
            f"Clustering run {run_id} is not registered: create it with "
            "lmsys cluster kmeans|hdbscan, or give its parameters as config."
        )
    return run, parse_stored(run.parameters or {})


@dataclass
class RunResult:
    run_id: str
    params: ClusteringParams
    query_ids: np.ndarray
    fit: ClusterFit
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[int, int]:
        ids, counts = np.unique(self.fit.labels, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}

    @property
    def noise_share(self) -> float:
        return float(np.mean(self.fit.labels == NOISE)) if len(self.fit.labels) else 0.0


def silhouette(vectors: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    """Cosine silhouette on a sample of clustered (non-noise) points; None if undefined."""
    from sklearn.metrics import silhouette_score

    keep = labels != NOISE
    if len(np.unique(labels[keep])) < 2 or keep.sum() < 3:
        return None
    x, y = vectors[keep], labels[keep]
    size = min(SILHOUETTE_SAMPLE, len(y))
    return float(silhouette_score(x, y, metric="cosine", sample_size=size, random_state=seed))


def materialize_run(
    db: DatabaseManager, run_id: str, on_progress: OnProgress = no_progress
) -> tuple[RunResult, np.ndarray]:
    """Fits the registered run and replaces its assignments. Returns the result and vectors.
    ``on_progress`` hears each phase: load, reduce, fit, assign, write."""
    run, params = load_run(db, run_id)
    started = time.perf_counter()
    on_progress(Progress("cluster", 0, None, "vectors", phase="load"))
    stored = load_vectors(db, params.embedding_model)
    max_query_id = (run.parameters or {}).get("max_query_id")
    keep = np.ones(len(stored.query_ids), dtype=bool)
    if max_query_id is not None:
        keep &= stored.query_ids <= max_query_id
    query_ids = stored.query_ids[keep]
    rows = stored.rows[keep]
    if params.limit is not None:
        query_ids, rows = query_ids[: params.limit], rows[: params.limit]
    vectors = stored.vectors[rows]
    del stored  # the distinct-text matrix: up to 1.5 GB at 1M that the fit does not need
    loaded = time.perf_counter()
    on_progress(Progress("cluster", len(vectors), None, "vectors", loaded - started, "load"))
    fit = fit_clustering(vectors, params, on_progress, query_ids)
    fitted = time.perf_counter()
    _replace_assignments(db, run_id, query_ids, fit, params, vectors.shape[1], on_progress)
    written = time.perf_counter()
    result = RunResult(
        run_id,
        params,
        query_ids,
        fit,
        {
            "load_vectors": loaded - started,
            **fit.phase_seconds,
            "write": written - fitted,
        },
    )
    return result, vectors


def read_assignments(db: DatabaseManager, run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The run's (query ids ascending, cluster ids) as arrays."""
    with db.engine.connect() as connection:
        pairs = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id)
            .where(QueryCluster.run_id == run_id)
            .order_by(QueryCluster.query_id)
        ).all()
    query_ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    labels = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    return query_ids, labels


COPY_ASSIGNMENTS = "COPY query_clusters (run_id, query_id, cluster_id, confidence_score) FROM STDIN"


def write_assignments(
    connection,
    run_id: str,
    query_ids: np.ndarray,
    labels: np.ndarray,
    confidence: np.ndarray,
    on_progress: OnProgress = no_progress,
) -> None:
    """Inserts a run's assignments in the caller's transaction: COPY on PostgreSQL (1.7x faster
    than batched INSERTs at 1M, see RESULTS.md), batched INSERTs elsewhere. ``on_progress``
    hears the rows written (after each batch; once at the end of a COPY)."""
    watch = Stopwatch()

    def written(rows: int) -> None:
        on_progress(Progress("cluster", rows, len(query_ids), "rows", watch.seconds, "write"))

    written(0)
    if connection.dialect.name == "postgresql":
        with (
            connection.connection.driver_connection.cursor() as cursor,
            cursor.copy(COPY_ASSIGNMENTS) as copy,
        ):
            for row in zip(
                repeat(run_id),
                query_ids.tolist(),
                labels.tolist(),
                confidence.tolist(),
                strict=False,
            ):
                copy.write_row(row)
        written(len(query_ids))
        return
    for start in range(0, len(query_ids), INSERT_CHUNK):
        stop = start + INSERT_CHUNK
        connection.execute(
            insert(QueryCluster),
            [
                {"run_id": run_id, "query_id": q, "cluster_id": c, "confidence_score": s}
                for q, c, s in zip(
                    query_ids[start:stop].tolist(),
                    labels[start:stop].tolist(),
                    confidence[start:stop].tolist(),
                    strict=True,
                )
            ],
        )
        written(min(stop, len(query_ids)))


def _replace_assignments(
    db: DatabaseManager,
    run_id: str,
    query_ids: np.ndarray,
    fit: ClusterFit,
    params: ClusteringParams,
    dimension: int,
    on_progress: OnProgress,
) -> None:
    with db.engine.begin() as connection:
        connection.execute(delete(QueryCluster).where(QueryCluster.run_id == run_id))
        connection.execute(delete(AssignedAfterFit).where(AssignedAfterFit.run_id == run_id))
        write_assignments(connection, run_id, query_ids, fit.labels, fit.confidence, on_progress)
        run_parameters: dict[str, Any] = (
            connection.execute(
                select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
            ).scalar_one()
            or {}
        )
        run_parameters = {
            **{k: v for k, v in run_parameters.items() if k != "failed_checks"},
            "n_queries": len(query_ids),
            "embedding_dimension": dimension,
            **{key: fit.details[key] for key in RECORDED_DETAILS if key in fit.details},
            "status": "materialized",
        }
        connection.execute(
            ClusteringRun.__table__.update()
            .where(ClusteringRun.run_id == run_id)
            .values(num_clusters=fit.num_clusters, parameters=run_parameters)
        )


__all__ = [
    "ClusteringInputError",
    "RunNotFound",
    "load_run",
    "materialize_run",
    "register_run",
    "silhouette",
]
