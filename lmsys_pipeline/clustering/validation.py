"""Checks of a stored clustering run, read back from the tables (not from memory)."""

from dataclasses import dataclass

from sqlalchemy import func, select

from lmsys_pipeline.clustering.algorithms import NOISE
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, QueryCluster


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
    algorithm, num_clusters, parameters = run
    lower_bound = -1.0 if algorithm == "kmeans" else 0.0
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
            missing == 0 and (low is None or (low >= lower_bound - 1e-6 and high <= 1 + 1e-6)),
            {"min": low, "max": high, "missing": missing, "range": [lower_bound, 1.0]},
        ),
    ]
    if algorithm == "kmeans":
        k = (parameters or {}).get("n_clusters")
        outcomes.append(
            CheckOutcome(
                "no_empty_kmeans_cluster",
                real_clusters == k,
                {"k": k, "non_empty_clusters": real_clusters},
            )
        )
    return outcomes
