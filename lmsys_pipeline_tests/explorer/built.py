"""The explorer's test data, built through the pipeline's own functions: real sample queries
with planted ones (a stolen card, a ``<script>``, terminal escapes), embedded; run A (KMeans)
with two summary aliases and a hierarchy; run B over more queries, with its lineage to A."""

from dataclasses import dataclass
from pathlib import Path

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.lineage.runs import compute_lineage, write_lineage
from lmsys_pipeline_tests.support.pipeline_data import build_tree, summarize
from lmsys_pipeline_tests.support.rows import message, row, write_parquet

STOLEN = "my card was stolen"
SCRIPT = "<script>alert(1)</script>"
ESCAPES = "\x1b[31mred alert\x1b[0m and a javascript:alert(2) link"
FIRST, MORE, K = 400, 80, 10


@dataclass(frozen=True)
class Built:
    run_a: str
    run_b: str
    stolen: int  # query ids
    script: int
    escapes: int


def planted(db: DatabaseManager, folder: Path) -> dict[str, int]:
    texts = {"stolen": STOLEN, "script": SCRIPT, "escapes": ESCAPES}
    source = write_parquet(
        folder / "planted.parquet",
        [row(f"planted-{name}", [message("user", text)]) for name, text in texts.items()],
    )
    ingest_batches(db, open_source(str(source)).batches(10))
    from sqlalchemy import select

    from lmsys_pipeline.db.models import Query

    with db.engine.connect() as connection:
        found = dict(
            connection.execute(
                select(Query.conversation_id, Query.id).where(
                    Query.conversation_id.in_([f"planted-{name}" for name in texts])
                )
            ).all()
        )
    return {name: found[f"planted-{name}"] for name in texts}


def build(db: DatabaseManager, embedder, folder: Path) -> Built:
    ingest_batches(db, open_source(None).batches(1000), limit=FIRST)
    ids = planted(db, folder)
    embed_pending(db, embedder)
    run_a = register_run(
        db, KMeansParams(n_clusters=K, reduction="pca"), description="before"
    ).run_id
    materialize_run(db, run_a)
    summarize(db, run_a, "kw", label_quality_queries=0)
    summarize(db, run_a, "kw-short", max_queries=5, label_quality_queries=0)
    build_tree(db, run_a, "kw", embedder=embedder, levels=2, top=3)
    ingest_batches(db, open_source(None).batches(1000), limit=FIRST + MORE)
    embed_pending(db, embedder)
    run_b = register_run(
        db, KMeansParams(n_clusters=K, reduction="pca"), description="after"
    ).run_id
    materialize_run(db, run_b)
    summarize(db, run_b, "kw", label_quality_queries=0)
    write_lineage(db, compute_lineage(db, run_a, run_b))
    return Built(run_a, run_b, ids["stolen"], ids["script"], ids["escapes"])
