"""``query_embeddings``: one vector per query and model, each distinct text embedded once."""

import dagster as dg
from pydantic import Field
from sqlalchemy import func, select

from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import (
    DB_WRITER_POOL,
    DatabaseResource,
    EmbedderResource,
    ProgressResource,
)
from lmsys_pipeline.embedding.cache import refresh_cache
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.progress import Progress


class QueryEmbeddingsConfig(dg.Config):
    """Left empty, the ``embedder`` resource's model and batch size (all-MiniLM-L6-v2, batches
    by a token budget that suits the device) and the device's chunk size."""

    model: str | None = Field(
        default=None,
        description=(
            "all-MiniLM-L6-v2 (installed, offline), a local sentence-transformers folder, a "
            "Hugging Face model name (downloaded unless HF_HUB_OFFLINE is set), or "
            "openai/<model> (OPENAI_API_KEY, OPENAI_BASE_URL). Default: the embedder resource's."
        ),
    )
    batch_size: int | None = Field(
        default=None, ge=1, description="Texts per batch at most (default: the resource's)."
    )
    chunk_size: int | None = Field(
        default=None,
        ge=1,
        description="Queries embedded and committed together (default: 4,096 on a CPU, "
        "more on a GPU).",
    )


@dg.asset(
    deps=["lmsys_queries"],
    group_name="embedding",
    kinds={"python", "pytorch"},
    pool=DB_WRITER_POOL,
    # Kept up to date: when lmsys_queries lands new rows, the automation sensor requests this.
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Vectors for every query, once per model; identical texts share one vector. "
        "Incremental: only queries without a vector for the model are embedded."
    ),
)
def query_embeddings(
    context: dg.AssetExecutionContext,
    config: QueryEmbeddingsConfig,
    database: DatabaseResource,
    embedder: EmbedderResource,
    progress: ProgressResource,
) -> dg.MaterializeResult:
    db = database.manager
    on_progress = progress.reporter(context.log.info)
    on_progress(Progress("embed", 0, None, "queries", phase="load model"))
    with user_failures():
        model = embedder.load(config.model, config.batch_size)
    device = str(getattr(model, "device", model.backend))
    engine = getattr(model, "engine", model.backend)
    context.log.info(f"Embedding with {model.name} ({model.dimension}-d) on {device}: {engine}")
    report = embed_pending(db, model, chunk_size=config.chunk_size, on_progress=on_progress)
    cache = refresh_cache(db, model.name)
    context.log.info(f"vector cache {cache.action} in {cache.seconds:.1f} s: {cache.folder}")
    if cache.problem:  # damaged (rebuilt) or unwritable (loads read the tables)
        context.log.warning(cache.problem)
    with db.engine.connect() as connection:
        covered = connection.execute(
            select(func.count())
            .select_from(QueryEmbedding)
            .where(QueryEmbedding.model == model.name)
        ).scalar_one()
        distinct = connection.execute(
            select(func.count()).select_from(TextEmbedding).where(TextEmbedding.model == model.name)
        ).scalar_one()
    context.log.info(
        f"{report.queries_covered:,} new queries covered by {report.texts_embedded:,} newly "
        f"embedded texts in {report.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "model": model.name,
            "dimension": dg.MetadataValue.int(model.dimension),
            "device": device,
            "engine": engine,
            "new_queries_embedded": dg.MetadataValue.int(report.queries_covered),
            "texts_embedded": dg.MetadataValue.int(report.texts_embedded),
            "texts_reused": dg.MetadataValue.int(report.texts_reused),
            "skipped_blank": dg.MetadataValue.int(report.skipped_blank),
            "queries_with_vectors": dg.MetadataValue.int(covered),
            "distinct_texts_with_vectors": dg.MetadataValue.int(distinct),
            "vector_megabytes": dg.MetadataValue.float(
                round(distinct * model.dimension * 4 / 1e6, 1)
            ),
            "seconds": dg.MetadataValue.float(round(report.seconds, 2)),
            "texts_per_second": dg.MetadataValue.float(round(report.texts_per_second, 1)),
            "vector_cache": cache.folder or "off",
            "vector_cache_update": cache.action,
            "vector_cache_seconds": dg.MetadataValue.float(round(cache.seconds, 2)),
        }
    )
