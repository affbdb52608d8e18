"""A small run with personal data planted in one topic, built through the pipeline."""

from pathlib import Path

from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.pipeline_data import summarize
from lmsys_pipeline_tests.support.rows import message, row, write_parquet

PLANTED = 24


def planted_queries() -> list[str]:
    """Invoice requests, each with an e-mail address, a phone number or a card number."""
    found = []
    for i in range(PLANTED):
        contact = (
            f"jane.roe{i}@example.com",
            f"(415) 555-01{i:02d}",
            "4111 1111 1111 1111",
        )[i % 3]
        found.append(f"Please send the invoice for order {i} to me at {contact}, thank you")
    return found


def build_planted(db: DatabaseManager, embedder, tmp_path: Path, k: int = 6) -> str:
    """120 sample queries and the planted ones, embedded, clustered (k), summarized offline
    under alias ``kw``; returns the run id."""
    ingest_batches(db, open_source(None).batches(1000), limit=120)
    rows = [row(f"planted-{i}", [message("user", q)]) for i, q in enumerate(planted_queries())]
    ingest_batches(db, open_source(str(write_parquet(tmp_path / "p.parquet", rows))).batches(50))
    embed_pending(db, embedder)
    run = register_run(db, KMeansParams(n_clusters=k))
    materialize_run(db, run.run_id)
    summarize(db, run.run_id, "kw", label_quality_queries=0)
    return run.run_id


def loaded_texts(db: DatabaseManager) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.execute(select(Query.query_text)).scalars())
