"""A run's cluster sizes, counted from its assignment rows, and the stored counts that follow
them (``ClusteringRun.num_clusters``, ``ClusterSummary.num_queries``) after rows moved: the
read commands, the curation edits and ``lmsys delete`` all count the same way."""

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from lmsys_pipeline.db.connection import DatabaseManager, connected
from lmsys_pipeline.db.models import NOISE, ClusteringRun, ClusterSummary, QueryCluster


def cluster_sizes(source: DatabaseManager | Connection, run_id: str) -> dict[int, int]:
    """Cluster id → number of queries, largest first (noise, ``-1``, included). Given a
    connection, counted inside its transaction."""
    count = func.count()
    with connected(source) as connection:
        rows = connection.execute(
            select(QueryCluster.cluster_id, count)
            .where(QueryCluster.run_id == run_id)
            .group_by(QueryCluster.cluster_id)
            .order_by(count.desc(), QueryCluster.cluster_id)
        ).all()
    return {int(c): int(n) for c, n in rows}


def cluster_size(source: DatabaseManager | Connection, run_id: str, cluster_id: int) -> int:
    """One cluster's number of queries (0: not in the run), counted on the run-and-cluster
    index alone, not the run's whole assignment table."""
    with connected(source) as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(QueryCluster)
                .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id)
            ).scalar_one()
        )


def recount(connection: Connection, run_id: str, cluster_ids: Iterable[int]) -> int:
    """``num_queries`` of these clusters in every summary run of ``run_id``, from the rows, and
    the run's ``num_clusters`` (its distinct non-noise ids, as materializing counts them: a
    split adds clusters, a merge, a deletion or an emptying move removes some); returns how
    many summary rows were updated."""
    clusters = connection.execute(
        select(func.count(func.distinct(QueryCluster.cluster_id))).where(
            QueryCluster.run_id == run_id, QueryCluster.cluster_id != NOISE
        )
    ).scalar_one()
    connection.execute(
        update(ClusteringRun).where(ClusteringRun.run_id == run_id).values(num_clusters=clusters)
    )
    updated = 0
    for cluster_id in sorted(set(cluster_ids)):
        size = cluster_size(connection, run_id, cluster_id)
        updated += connection.execute(
            update(ClusterSummary)
            .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster_id)
            .values(num_queries=size)
        ).rowcount
    return updated
