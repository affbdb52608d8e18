"""Checks of a stored clustering run, read back from the tables (not from memory)."""

from dataclasses import dataclass

from sqlalchemy import func, select

from lmsys_pipeline.clustering import registry
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, ClusteringRun, QueryCluster

CHECKS = {
    "every_query_assigned_once": "Every embedded query of the run has exactly one row.",
    "num_clusters_matches_assignments": "num_clusters equals the distinct non-noise ids.",
    "confidence_within_documented_range": "Confidence filled and within its documented range.",
    "no_empty_kmeans_cluster": "KMeans: all k clusters have members (not run for HDBSCAN).",
}


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    detail: dict


def check_run(db: DatabaseManager, run_id: str, expected_query_ids: int) -> list[CheckOutcome]:
    assignments = QueryCluster.__table__
    with db.engine.connect() as connection:
        run = connection.execute(
            select(
                ClusteringRun.algorithm, ClusteringRun.num_clusters, ClusteringRun.parameters
            ).where(ClusteringRun.run_id == run_id)
        ).one()
        rows, distinct_queries = connection.execute(
            select(func.count(), func.count(func.distinct(assignments.c.query_id))).where(
                assignments.c.run_id == run_id
            )
        ).one()
        real_clusters = connection.execute(
            select(func.count(func.distinct(assignments.c.cluster_id))).where(
                assignments.c.run_id == run_id, assignments.c.cluster_id != NOISE
            )
        ).scalar_one()
        low, high, missing = connection.execute(
            select(
                func.min(assignments.c.confidence_score),
                func.max(assignments.c.confidence_score),
                func.count().filter(assignments.c.confidence_score.is_(None)),
            ).where(assignments.c.run_id == run_id)
        ).one()
    name, num_clusters, parameters = run
    chosen = registry.algorithm(name)
    lower_bound, upper_bound = chosen.confidence_range
    outcomes = [
        CheckOutcome(
            "every_query_assigned_once",
            rows == distinct_queries == expected_query_ids,
            {"rows": rows, "distinct_queries": distinct_queries, "expected": expected_query_ids},
        ),
        CheckOutcome(
            "num_clusters_matches_assignments",
            num_clusters == real_clusters,
            {"num_clusters": num_clusters, "distinct_cluster_ids": real_clusters},
        ),
        CheckOutcome(
            "confidence_within_documented_range",
            missing == 0
            and (low is None or (low >= lower_bound - 1e-6 and high <= upper_bound + 1e-6)),
            {"min": low, "max": high, "missing": missing, "range": [lower_bound, upper_bound]},
        ),
    ]
    if chosen.fills_every_cluster:
        k = (parameters or {}).get(chosen.size_field)
        outcomes.append(
            CheckOutcome(
                "no_empty_kmeans_cluster",
                real_clusters == k,
                {"k": k, "non_empty_clusters": real_clusters},
            )
        )
    return outcomes


CHECKS_FAILED = "checks_failed"


def record_outcomes(db: DatabaseManager, run_id: str, outcomes: list[CheckOutcome]) -> None:
    """Marks a run whose checks failed, so it never reads as a good run: ``lmsys runs`` shows
    its status and summary runs refuse it until it is re-materialized."""
    failed = sorted(o.name for o in outcomes if not o.passed)
    if not failed:
        return
    with db.engine.begin() as connection:
        parameters = connection.execute(
            select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
        ).scalar_one()
        connection.execute(
            ClusteringRun.__table__.update()
            .where(ClusteringRun.run_id == run_id)
            .values(
                parameters={**(parameters or {}), "status": CHECKS_FAILED, "failed_checks": failed}
            )
        )
