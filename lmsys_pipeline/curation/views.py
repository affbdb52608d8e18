"""What the edit commands read: one query across runs, the run's orphans, search targets."""

from sqlalchemy import select

from lmsys_pipeline.curation.edits import EditError
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.faults import database_integer
from lmsys_pipeline.db.models import NOISE, ClusteringRun, ClusterSummary, Query, QueryCluster
from lmsys_pipeline.reading.choice import require_run


def parse_ids(text: str) -> list[int]:
    """``"12, 15,17"`` → ``[12, 15, 17]``; one sentence for anything else."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.lstrip("-").isdigit() for part in parts):
        raise EditError(f"Query ids must be whole numbers separated by commas, not {text!r}.")
    return [database_integer(int(part), "Query id") for part in parts]


def query_view(db: DatabaseManager, query_id: int) -> dict:
    """The query and, for every run that assigned it, its cluster, confidence and the title
    of the run's latest summary row for that cluster."""
    with db.engine.connect() as connection:
        query = connection.execute(select(Query).where(Query.id == query_id)).first()
        if query is None:
            raise EditError(f"Query {query_id} does not exist.")
        places = connection.execute(
            select(QueryCluster.run_id, QueryCluster.cluster_id, QueryCluster.confidence_score)
            .join(ClusteringRun, ClusteringRun.run_id == QueryCluster.run_id)
            .where(QueryCluster.query_id == query_id)
            .order_by(ClusteringRun.created_at.desc())
        ).all()
        clusters = []
        for run_id, cluster_id, confidence in places:
            title = connection.execute(
                select(ClusterSummary.title)
                .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster_id)
                .order_by(ClusterSummary.generated_at.desc())
                .limit(1)
            ).scalar()
            clusters.append(
                {
                    "run_id": run_id,
                    "cluster_id": cluster_id,
                    "confidence": confidence,
                    "title": title,
                }
            )
    return {
        "query_id": query.id,
        "conversation_id": query.conversation_id,
        "model": query.model,
        "language": query.language,
        "query_text": query.query_text,
        "clusters": clusters,
    }


def orphaned_queries(db: DatabaseManager, run_id: str) -> list[dict]:
    """Queries the run holds in no cluster: HDBSCAN noise and the queries of deleted clusters."""
    with db.engine.connect() as connection:
        require_run(connection, run_id)
        rows = connection.execute(
            select(Query.id, Query.query_text)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == NOISE)
            .order_by(Query.id)
        ).all()
    return [{"query_id": q, "query_text": text} for q, text in rows]


def searched_ids(
    db: DatabaseManager,
    run_id: str,
    text: str,
    top_k: int,
    from_cluster: int | None,
    to_cluster: int,
) -> list[int]:
    """The run's queries nearest to ``text`` (optionally only from one cluster), leaving out
    those already in the target cluster."""
    from lmsys_pipeline.clustering.registry import parse_stored
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.search import SearchFilters, search

    with db.engine.connect() as connection:
        stored = require_run(connection, run_id)
    clusters = (from_cluster,) if from_cluster is not None else ()
    embedder = load_embedder(parse_stored(stored).embedding_model)
    hits = search(db, embedder, text, top=top_k + 1000, filters=SearchFilters(run_id, clusters))
    ids = [hit.query_id for hit in hits if hit.cluster_id != to_cluster][:top_k]
    if not ids:
        raise EditError(f"No query of {run_id} outside cluster {to_cluster} matches {text!r}.")
    return ids
