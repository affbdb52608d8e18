"""``lmsys_queries``: conversations from a source into the ``queries`` table."""

import dagster as dg
from pydantic import Field
from sqlalchemy import func, select

from lmsys_pipeline.db.models import Query
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import DB_WRITER_POOL, DatabaseResource, ProgressResource
from lmsys_pipeline.ingestion.loader import DEFAULT_BATCH_SIZE, IngestReport, ingest_source
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.markdown import counts_table


class LmsysQueriesConfig(dg.Config):
    source: str | None = Field(
        default=None,
        description=(
            "A hub dataset id (e.g. lmsys/lmsys-chat-1m, token from HF_TOKEN), a local "
            ".parquet/.jsonl/.json file, a folder or a glob of them. Default: the bundled sample."
        ),
    )
    limit: int | None = Field(
        default=None, ge=1, description="Read at most this many rows from the source."
    )
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, ge=1, description="Rows parsed and committed together."
    )


def report_metadata(report: IngestReport, total_rows: int, database: str) -> dict:
    return {
        "source": report.source,
        "database": database,
        "rows_read": dg.MetadataValue.int(report.rows_read),
        "inserted": dg.MetadataValue.int(report.inserted),
        "skipped": dg.MetadataValue.int(report.skipped_total),
        "skipped_by_reason": dg.MetadataValue.md(
            counts_table({str(k): v for k, v in report.skipped.items() if v}, "reason")
        ),
        "row_notes": dg.MetadataValue.json(dict(report.notes)),
        "timestamps_set_aside": dg.MetadataValue.int(sum(report.timestamps_set_aside.values())),
        "timestamps_set_aside_by_reason": dg.MetadataValue.md(
            counts_table(report.timestamps_set_aside, "reason")
        ),
        "duplicate_text_share": dg.MetadataValue.float(round(report.duplicate_text_share, 4)),
        "top_languages": dg.MetadataValue.md(counts_table(report.languages, "language")),
        "top_models": dg.MetadataValue.md(counts_table(report.models, "model")),
        "total_queries": dg.MetadataValue.int(total_rows),
        "unreadable_parts": dg.MetadataValue.int(len(report.unreadable)),
        "unreadable": dg.MetadataValue.json([p.sentence() for p in report.unreadable]),
        "seconds": dg.MetadataValue.float(round(report.seconds, 2)),
        "rows_per_second": dg.MetadataValue.float(round(report.rows_per_second, 1)),
    }


@dg.asset(
    group_name="ingestion",
    kinds={"python", "sql"},
    pool=DB_WRITER_POOL,
    description=(
        "The first user message of every conversation, one Query row per conversation_id. "
        "Incremental: conversations already stored are skipped."
    ),
)
def lmsys_queries(
    context: dg.AssetExecutionContext,
    config: LmsysQueriesConfig,
    database: DatabaseResource,
    progress: ProgressResource,
) -> dg.MaterializeResult:
    db = database.manager
    with user_failures():
        source = open_source(config.source)
    context.log.info(f"Ingesting {source.description} into {db.safe_url}")

    with user_failures():
        report = ingest_source(
            db,
            source,
            batch_size=config.batch_size,
            limit=config.limit,
            on_progress=progress.reporter(context.log.info),
        )
    for problem in report.unreadable:
        context.log.warning(f"Skipped {problem.sentence()}")

    with db.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Query)).scalar_one()
    context.log.info(
        f"Read {report.rows_read:,} rows: inserted {report.inserted:,}, skipped "
        f"{report.skipped_total:,} in {report.seconds:.1f} s"
    )
    return dg.MaterializeResult(metadata=report_metadata(report, total, db.safe_url))
