"""What the database holds: rows per table, vectors per model, runs and its size on disk."""

from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.db.vectors import EmbeddingModel, QueryEmbedding


def database_bytes(db: DatabaseManager) -> int | None:
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        files = [Path(url.database + suffix) for suffix in ("", "-wal", "-shm")]
        return sum(f.stat().st_size for f in files if f.exists())
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as connection:
            return int(
                connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    return None


def database_status(db: DatabaseManager) -> dict[str, Any]:
    tables = sorted(inspect(db.engine).get_table_names())
    with db.engine.connect() as connection:
        rows = {
            name: int(
                connection.execute(select(func.count()).select_from(text(f'"{name}"'))).scalar_one()
            )
            for name in tables
        }
        models = connection.execute(
            select(
                EmbeddingModel.name, EmbeddingModel.dimension, func.count(QueryEmbedding.query_id)
            )
            .join(QueryEmbedding, QueryEmbedding.model == EmbeddingModel.name, isouter=True)
            .group_by(EmbeddingModel.name, EmbeddingModel.dimension)
        ).all()
        statuses = dict(
            connection.execute(
                select(SummaryRun.status, func.count()).group_by(SummaryRun.status)
            ).all()
        )
    return {
        "database": db.safe_url,
        "database_bytes": database_bytes(db),
        "rows": rows,
        "embeddings": [{"model": m, "dimension": d, "queries": int(n)} for m, d, n in models],
        "clustering_runs": rows.get("clustering_runs", 0),
        "summary_runs": {"total": sum(statuses.values()), **statuses},
    }
