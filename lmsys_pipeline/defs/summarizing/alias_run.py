"""What the two (clustering run x alias) assets share, ``cluster_summaries`` and
``cluster_hierarchy``: an alias run (``labeling/alias_run.py``) prepared with its partitions
added, and run under its lease. The CLI prepares through the same ``prepare_partition`` before
it materializes the partition with the entry's id in the config."""

from typing import Any

import dagster as dg

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import (
    DatabaseResource,
    EmbedderResource,
    LLMResource,
    ProgressResource,
)
from lmsys_pipeline.defs.summarizing.partitions import (
    ALIAS_DIMENSION,
    RUN_DIMENSION,
    add_summary_partitions,
)
from lmsys_pipeline.labeling.alias_run import AliasRunKind, Prepared
from lmsys_pipeline.labeling.settings import ThroughputSettings


def prepare_partition(
    kind: AliasRunKind,
    db: DatabaseManager,
    instance: dg.DagsterInstance,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    llm: LLMResource,
    *,
    restart: bool = False,
    entry_id: str | None = None,
) -> Prepared:
    """``kind.prepare`` with the ``llm`` resource's server, key and throughput (overrides
    naming a throughput setting, as ``concurrency`` and ``rpm`` of a hierarchy, replace the
    resource's), then the run and the alias added to their partitions."""
    server = ThroughputSettings.model_fields
    throughput = llm.throughput().model_copy(
        update={k: v for k, v in overrides.items() if k in server and v is not None}
    )
    prepared = kind.prepare(
        db,
        run_id,
        alias,
        {k: v for k, v in overrides.items() if k not in server},
        throughput,
        api_key=llm.api_key,
        restart=restart,
        entry_id=entry_id,
    )
    add_summary_partitions(instance, run_id, alias)
    return prepared


def run_partition(
    kind: AliasRunKind,
    context: dg.AssetExecutionContext,
    config: dg.Config,
    database: DatabaseResource,
    embedder: EmbedderResource,
    llm: LLMResource,
    progress: ProgressResource,
) -> tuple[str, str, Any]:
    """The partition's alias run, under its lease; ``config`` holds the overrides,
    ``restart`` and the id of the entry to continue (``<kind>_run_id``). Returns the
    clustering run, the alias and the run's report."""
    keys = context.partition_key.keys_by_dimension
    run_id, alias = keys[RUN_DIMENSION], keys[ALIAS_DIMENSION]
    key = kind.ledger.key
    with user_failures(), kind.lease(database.manager, run_id, alias):
        prepared = prepare_partition(
            kind,
            database.manager,
            context.instance,
            run_id,
            alias,
            config.model_dump(exclude={"restart", key}),
            llm,
            restart=config.restart,
            entry_id=getattr(config, key),
        )
        report = kind.run(
            database.manager,
            prepared,
            load_embedder=embedder.load,
            log=context.log.info,
            on_progress=progress.reporter(context.log.info),
        )
    return run_id, alias, report


def dagster_metadata(
    metadata: dict[str, Any],
    markdown: tuple[str, ...],
    as_json: tuple[str, ...],
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A report's metadata for Dagster: the ``markdown`` keys as markdown (last, after
    ``more``), the ``as_json`` keys as JSON (lists), the rest as they are."""
    return {
        **{k: v for k, v in metadata.items() if k not in markdown},
        **{k: dg.MetadataValue.json(metadata[k]) for k in as_json},
        **(more or {}),
        **{k: dg.MetadataValue.md(metadata[k]) for k in markdown},
    }
