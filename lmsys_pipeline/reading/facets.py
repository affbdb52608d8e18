"""Which languages and models are over-represented in a cluster, relative to its whole run.

Lift = (share of the value in the cluster) / (share of the value in the run). A lift of 3 for
Portuguese means Portuguese queries are three times as common in this cluster as in the run.
Values seen fewer than ``min_count`` times in the cluster are left out (tiny counts make
large, meaningless lifts), and so are lifts under ``MIN_LIFT`` (noise, not a finding).
"""

from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster

FACETS = {"language": Query.language, "model": Query.model}
MIN_COUNT = 3
MIN_LIFT = 1.5
TOP = 5


@dataclass(frozen=True)
class Facet:
    value: str
    count: int
    share: float
    run_share: float
    lift: float

    def as_dict(self) -> dict:
        return asdict(self)


def facet_counts(
    db: DatabaseManager, run_id: str, facet: str, cluster_id: int | None = None
) -> dict[str, int]:
    """Counts of each language or model among the run's (or one cluster's) queries."""
    column = func.coalesce(FACETS[facet], "unknown")
    statement = (
        select(column, func.count())
        .select_from(QueryCluster)
        .join(Query, Query.id == QueryCluster.query_id)
        .where(QueryCluster.run_id == run_id)
        .group_by(column)
    )
    if cluster_id is not None:
        statement = statement.where(QueryCluster.cluster_id == cluster_id)
    with db.engine.connect() as connection:
        return {str(value): int(count) for value, count in connection.execute(statement)}


def lifts(
    cluster: dict[str, int],
    run: dict[str, int],
    *,
    min_count: int = MIN_COUNT,
    min_lift: float = MIN_LIFT,
    top: int = TOP,
) -> list[Facet]:
    """The values most over-represented in ``cluster``, highest lift first."""
    cluster_total, run_total = sum(cluster.values()), sum(run.values())
    if not cluster_total or not run_total:
        return []
    found = []
    for value, count in cluster.items():
        share, run_share = count / cluster_total, run.get(value, count) / run_total
        lift = share / run_share if run_share else 0.0
        if count >= min_count and lift >= min_lift:
            found.append(Facet(value, count, round(share, 4), round(run_share, 4), round(lift, 2)))
    return sorted(found, key=lambda f: (-f.lift, -f.count, f.value))[:top]


def cluster_lifts(db: DatabaseManager, run_id: str, facet: str) -> dict[int, list[Facet]]:
    """Over-represented values of every cluster of the run, in one grouped query."""
    column = func.coalesce(FACETS[facet], "unknown")
    statement = (
        select(QueryCluster.cluster_id, column, func.count())
        .select_from(QueryCluster)
        .join(Query, Query.id == QueryCluster.query_id)
        .where(QueryCluster.run_id == run_id)
        .group_by(QueryCluster.cluster_id, column)
    )
    per_cluster: dict[int, dict[str, int]] = {}
    run: dict[str, int] = {}
    with db.engine.connect() as connection:
        for cluster_id, value, count in connection.execute(statement):
            per_cluster.setdefault(int(cluster_id), {})[str(value)] = int(count)
            run[str(value)] = run.get(str(value), 0) + int(count)
    return {c: lifts(counts, run) for c, counts in per_cluster.items()}
