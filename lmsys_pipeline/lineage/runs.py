"""Lineage between two stored clustering runs: which run came before, loading both runs'
clusters, and replacing the pair's rows in ``cluster_lineage``."""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, insert, select

from lmsys_pipeline.clustering.runs import load_run, read_assignments
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import StoredVectors
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.lineage.match import (
    CONTINUES,
    DEFAULT_THRESHOLDS,
    GONE,
    MERGED,
    NEW,
    SPLIT,
    Partition,
    Relation,
    Thresholds,
    match_runs,
)
from lmsys_pipeline.vectors import centroids


class LineageInputError(UserError, ValueError):
    pass


@dataclass
class Lineage:
    from_run_id: str
    to_run_id: str
    relations: list[Relation]
    thresholds: Thresholds = field(default_factory=Thresholds)

    def counts(self) -> dict[str, int]:
        """Clusters by kind: later clusters that continue or are new, earlier clusters that
        split (linked to several) or are gone, later clusters merged (linked from several)."""
        links = [r for r in self.relations if r.kind in (SPLIT, MERGED)]
        pieces = Counter(r.from_cluster_id for r in links)
        parts = Counter(r.to_cluster_id for r in links)
        return {
            CONTINUES: sum(r.kind == CONTINUES for r in self.relations),
            SPLIT: sum(n > 1 for n in pieces.values()),
            MERGED: sum(n > 1 for n in parts.values()),
            NEW: sum(r.kind == NEW for r in self.relations),
            GONE: sum(r.kind == GONE for r in self.relations),
        }


def _materialized(db: DatabaseManager, run_id: str) -> tuple[ClusteringRun, str]:
    run, params = load_run(db, run_id)
    if (run.parameters or {}).get("status") != "materialized":
        raise LineageInputError(
            f"Clustering run {run_id} has no assignments yet: materialize its cluster_run "
            "partition first."
        )
    return run, params.embedding_model


def previous_run(db: DatabaseManager, run_id: str) -> str | None:
    """The materialized run of the same algorithm and embedding model registered last before
    ``run_id``; None when there is none."""
    run, model = _materialized(db, run_id)
    with db.get_session() as session:
        earlier = session.execute(
            select(ClusteringRun)
            .where(
                ClusteringRun.algorithm == run.algorithm,
                ClusteringRun.run_id != run_id,
                ClusteringRun.created_at <= run.created_at,
            )
            .order_by(ClusteringRun.created_at.desc(), ClusteringRun.run_id.desc())
        ).scalars()
        for candidate in earlier:
            parameters = candidate.parameters or {}
            if (
                parameters.get("status") == "materialized"
                and parameters.get("embedding_model") == model
                and (candidate.created_at, candidate.run_id) < (run.created_at, run.run_id)
            ):
                return candidate.run_id
    return None


def load_partition(db: DatabaseManager, run_id: str, stored: StoredVectors) -> Partition:
    query_ids, labels = read_assignments(db, run_id)
    position = np.minimum(np.searchsorted(stored.query_ids, query_ids), len(stored.query_ids) - 1)
    found = stored.query_ids[position] == query_ids
    # A query deleted since (or whose vector is gone) keeps its place in the sets but adds
    # nothing to a centroid.
    centres = centroids(stored.vectors, labels[found], stored.rows[position[found]])
    width = int(labels.max()) + 1 if len(labels) else 0
    if len(centres) < width:  # the last clusters lost every vector: no centroid, zeros
        centres = np.vstack(
            [centres, np.zeros((width - len(centres), centres.shape[1]), np.float32)]
        )
    return Partition(query_ids, labels, centres)


def compute_lineage(
    db: DatabaseManager,
    from_run_id: str,
    to_run_id: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Lineage:
    """The relations between two materialized runs of the same embedding model."""
    if from_run_id == to_run_id:
        raise LineageInputError(f"Compare {to_run_id} with another run, not with itself.")
    _, model_from = _materialized(db, from_run_id)
    _, model_to = _materialized(db, to_run_id)
    if model_from != model_to:
        raise LineageInputError(
            f"{from_run_id} clustered {model_from} vectors and {to_run_id} {model_to} vectors: "
            "lineage compares runs of the same embedding model."
        )
    stored = load_vectors(db, model_to)
    before = load_partition(db, from_run_id, stored)
    after = load_partition(db, to_run_id, stored)
    return Lineage(from_run_id, to_run_id, match_runs(before, after, thresholds), thresholds)


def write_lineage(db: DatabaseManager, lineage: Lineage) -> int:
    """Replaces the pair's rows in one transaction; returns how many were written."""
    rows = [
        {"from_run_id": lineage.from_run_id, "to_run_id": lineage.to_run_id, **r.as_dict()}
        for r in lineage.relations
    ]
    with db.engine.begin() as connection:
        connection.execute(
            delete(ClusterLineage).where(
                ClusterLineage.to_run_id == lineage.to_run_id,
                ClusterLineage.from_run_id == lineage.from_run_id,
            )
        )
        if rows:
            connection.execute(insert(ClusterLineage), rows)
    return len(rows)
