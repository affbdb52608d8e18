"""Reading the project's tables back in tests: the state an edit may change, a cluster's
members, counts that must add up, columns holding a text."""

from sqlalchemy import String, cast, func, select
from sqlmodel import SQLModel

from lmsys_pipeline.db.curation import ClusterMetadata
from lmsys_pipeline.db.models import ClusterSummary, QueryCluster


def state(db) -> dict:
    """Everything an edit may change, as comparable values."""
    with db.engine.connect() as connection:
        assignments = sorted(
            connection.execute(
                select(
                    QueryCluster.run_id,
                    QueryCluster.query_id,
                    QueryCluster.cluster_id,
                    QueryCluster.confidence_score,
                )
            ).all()
        )
        summaries = sorted(
            connection.execute(
                select(
                    ClusterSummary.id,
                    ClusterSummary.summary_run_id,
                    ClusterSummary.cluster_id,
                    ClusterSummary.title,
                    ClusterSummary.description,
                    ClusterSummary.num_queries,
                    ClusterSummary.generated_at,
                )
            ).all()
        )
        metadata = sorted(
            connection.execute(
                select(
                    ClusterMetadata.cluster_id,
                    ClusterMetadata.tags,
                    ClusterMetadata.flags,
                    ClusterMetadata.quality,
                    ClusterMetadata.coherence_score,
                    ClusterMetadata.notes,
                )
            ).all(),
            key=repr,
        )
    return {"assignments": assignments, "summaries": summaries, "metadata": metadata}


def members(db, run_id: str, cluster_id: int) -> list[int]:
    with db.engine.connect() as connection:
        return sorted(
            connection.execute(
                select(QueryCluster.query_id).where(
                    QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id
                )
            ).scalars()
        )


def assert_counts_true(db, run_id: str) -> None:
    with db.engine.connect() as connection:
        sizes = dict(
            connection.execute(
                select(QueryCluster.cluster_id, func.count())
                .where(QueryCluster.run_id == run_id)
                .group_by(QueryCluster.cluster_id)
            ).all()
        )
        rows = connection.execute(
            select(ClusterSummary.cluster_id, ClusterSummary.num_queries).where(
                ClusterSummary.run_id == run_id
            )
        ).all()
    assert rows and all(size == sizes.get(cluster, 0) for cluster, size in rows)


def columns_holding(db, needle: str) -> list[str]:
    """Every table.column (all of the project's tables) whose text holds ``needle``."""
    found = []
    with db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                text = cast(column, String)
                hits = connection.execute(
                    select(func.count()).select_from(table).where(text.contains(needle))
                ).scalar_one()
                if hits:
                    found.append(f"{table.name}.{column.name}")
    return found
