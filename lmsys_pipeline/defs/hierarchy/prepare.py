"""A hierarchy run prepared and its partitions added: what ``lmsys merge-clusters`` and the
``cluster_hierarchy`` asset both call before building."""

from typing import Any

import dagster as dg

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.defs.resources import LLMResource
from lmsys_pipeline.defs.summarizing.partitions import add_summary_partitions
from lmsys_pipeline.hierarchy.prepare import PreparedHierarchy, prepare_hierarchy

THROUGHPUT_OVERRIDES = ("concurrency", "rpm")


def prepare_hierarchy_run(
    db: DatabaseManager,
    instance: dg.DagsterInstance,
    run_id: str,
    alias: str,
    overrides: dict[str, Any],
    llm: LLMResource,
    *,
    restart: bool = False,
    hierarchy_run_id: str | None = None,
) -> PreparedHierarchy:
    """``overrides`` may set ``concurrency`` and ``rpm`` over the ``llm`` resource's."""
    throughput = llm.throughput().model_copy(
        update={k: overrides[k] for k in THROUGHPUT_OVERRIDES if overrides.get(k) is not None}
    )
    prepared = prepare_hierarchy(
        db,
        run_id,
        alias,
        {k: v for k, v in overrides.items() if k not in THROUGHPUT_OVERRIDES},
        throughput,
        api_key=llm.api_key,
        restart=restart,
        hierarchy_run_id=hierarchy_run_id,
    )
    add_summary_partitions(instance, run_id, alias)
    return prepared
