"""``embed_backlog_job``: the embedding backlog split into shards that run on several workers.

Each partition (``<i>-of-<n>``) embeds the pending queries whose id modulo n is i, so a
backfill of all partitions launches n runs that the instance's run launcher (Docker,
Kubernetes, Celery...) can place on n machines; on one machine they queue like any run. Every
shard records a materialization of ``query_embeddings``. n comes from ``LMSYS_EMBED_SHARDS``
(default 8) when the definitions load.
"""

import os

import dagster as dg

from lmsys_pipeline.defs.embedding.assets import QueryEmbeddingsConfig
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import (
    DB_WRITER_POOL,
    DatabaseResource,
    EmbedderResource,
    ProgressResource,
)
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.store import Shard

SHARD_COUNT = int(os.environ.get("LMSYS_EMBED_SHARDS", "8"))
embedding_shards = dg.StaticPartitionsDefinition(
    [f"{index}-of-{SHARD_COUNT}" for index in range(SHARD_COUNT)]
)


def shard_of(partition_key: str) -> Shard:
    index, _, count = partition_key.partition("-of-")
    return Shard(int(index), int(count))


@dg.op(out={}, pool=DB_WRITER_POOL, description="Embeds the pending queries of one shard.")
def embed_shard(
    context: dg.OpExecutionContext,
    config: QueryEmbeddingsConfig,
    database: DatabaseResource,
    embedder: EmbedderResource,
    progress: ProgressResource,
):
    shard = shard_of(context.partition_key)
    with user_failures():
        model = embedder.load(config.model, config.batch_size)
    report = embed_pending(
        database.manager,
        model,
        chunk_size=config.chunk_size,
        shard=shard,
        on_progress=progress.reporter(context.log.info),
    )
    context.log.info(
        f"shard {context.partition_key}: {report.queries_covered:,} queries, "
        f"{report.texts_embedded:,} texts embedded in {report.seconds:.1f} s"
    )
    yield dg.AssetMaterialization(
        asset_key="query_embeddings",
        description=f"shard {context.partition_key} of the embedding backlog",
        metadata={
            "model": model.name,
            "shard": context.partition_key,
            "new_queries_embedded": report.queries_covered,
            "texts_embedded": report.texts_embedded,
            "texts_reused": report.texts_reused,
            "seconds": round(report.seconds, 2),
        },
    )


@dg.job(
    partitions_def=embedding_shards,
    description="The embedding backlog in LMSYS_EMBED_SHARDS shards: backfill every "
    "partition to embed on several workers at once.",
)
def embed_backlog_job():
    embed_shard()
