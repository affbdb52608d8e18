"""A summary run prepared and its partitions added: what the CLI and the
``cluster_summaries`` asset both call before labelling."""

from typing import Any

import dagster as dg

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.defs.resources import LLMResource
from lmsys_pipeline.defs.summarizing.partitions import add_summary_partitions
from lmsys_pipeline.summarizing.prepare import PreparedSummary, prepare_summary


def prepare_summary_run(
    db: DatabaseManager,
    instance: dg.DagsterInstance,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    llm: LLMResource,
    *,
    restart: bool = False,
    summary_run_id: str | None = None,
) -> PreparedSummary:
    prepared = prepare_summary(
        db,
        run_id,
        alias,
        overrides,
        llm.throughput(),
        api_key=llm.api_key,
        restart=restart,
        summary_run_id=summary_run_id,
    )
    add_summary_partitions(instance, run_id, alias)
    return prepared
