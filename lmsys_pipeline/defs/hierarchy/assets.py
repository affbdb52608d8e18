"""``cluster_hierarchy``: one hierarchy run per clustering run x alias partition."""

from urllib.parse import quote

import dagster as dg
from pydantic import Field

from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.defs.resources import (
    DatabaseResource,
    EmbedderResource,
    ExplorerResource,
    LLMResource,
    ProgressResource,
)
from lmsys_pipeline.defs.summarizing.alias_run import dagster_metadata, run_partition
from lmsys_pipeline.defs.summarizing.partitions import summary_partitions
from lmsys_pipeline.hierarchy.kind import HIERARCHY_RUNS
from lmsys_pipeline.hierarchy.report import hierarchy_metadata
from lmsys_pipeline.hierarchy.validation import tree_checks
from lmsys_pipeline.outputs.hierarchy import check_rows, stored_rows

MARKDOWN_KEYS = ("tree", "levels_table", "orphans_table", "failures")
CHECKS = {
    "every_cluster_once_at_level_0": (
        dg.AssetCheckSeverity.ERROR,
        "Every cluster of the clustering run is one level-0 node, and no node has two parents.",
    ),
    "parents_have_two_children": (
        dg.AssetCheckSeverity.ERROR,
        "Every parent has at least two children (a child no parent fits stays an orphan).",
    ),
    "no_cycles": (
        dg.AssetCheckSeverity.ERROR,
        "Following parents climbs one level at a time and ends at a root.",
    ),
    "top_level_size": (
        dg.AssetCheckSeverity.WARN,
        "The top level holds at most the parents asked for and, with the orphans kept below "
        "it, at least half of them.",
    ),
}


class HierarchyConfig(dg.Config):
    """How the tree is built. Left empty, a partition resumes its alias's hierarchy with the
    settings it last used (or the defaults: the offline baseline, levels until the top holds
    10). The server and its key belong to the ``llm`` resource; ``concurrency`` and ``rpm``
    here override the resource's."""

    model: str | None = Field(
        default=None, description="provider/name, or local/agglomerative (offline)."
    )
    levels: int | None = Field(default=None, description="Parent levels above the clusters.")
    top: int | None = Field(default=None, description="Nodes wanted at the top level.")
    merge_ratio: float | None = Field(
        default=None, description="Parents per child from one level to the next (0.2)."
    )
    neighborhood_size: int | None = Field(
        default=None, description="Clusters per neighbourhood for LLM proposals (40)."
    )
    concurrency: int | None = Field(default=None, description="Requests in flight.")
    rpm: int | None = Field(default=None, description="Requests per minute at most.")
    temperature: float | None = Field(default=None, description="Sampling temperature (0).")
    seed: int | None = Field(default=None, description="Seed of k-means and the requests.")
    restart: bool = Field(
        default=False,
        description="Start a new hierarchy run even if it could be resumed, and ask the model "
        "again (answers cached before are not used).",
    )
    hierarchy_run_id: str | None = Field(
        default=None, description="Continue exactly this run (set by lmsys merge-clusters)."
    )


@dg.asset(
    # The same partitions as cluster_summaries: each reads its own alias's summary run.
    deps=["cluster_summaries"],
    partitions_def=summary_partitions,
    group_name="hierarchy",
    kinds={"python", "openai"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="cluster_hierarchy", description=description)
        for name, (_, description) in CHECKS.items()
    ],
    description=(
        "One hierarchy run per partition (clustering run x alias): cluster_hierarchies rows "
        "with parent categories over the alias's titled clusters, level by level (Clio-style "
        "with an LLM, or the offline agglomerative baseline), and a hierarchy_runs ledger row. "
        "Re-materializing resumes it (answers already paid for come from the cache); new "
        "settings or a new summary run replace the alias's tree."
    ),
)
def cluster_hierarchy(
    context: dg.AssetExecutionContext,
    config: HierarchyConfig,
    database: DatabaseResource,
    embedder: EmbedderResource,
    llm: LLMResource,
    progress: ProgressResource,
    explorer: ExplorerResource,
) -> dg.MaterializeResult:
    run_id, alias, report = run_partition(
        HIERARCHY_RUNS, context, config, database, embedder, llm, progress
    )
    db = database.manager
    rows = check_rows(stored_rows(db, report.entry.hierarchy_run_id))
    outcomes = tree_checks(rows, set(cluster_sizes(db, run_id)), report.targets)
    metadata = hierarchy_metadata(report)
    entry = report.entry
    context.log.info(
        f"{entry.hierarchy_run_id}: levels {entry.level_sizes}, {entry.orphans} orphans, "
        f"{entry.requests} requests, status {entry.status}"
    )
    return dg.MaterializeResult(
        metadata={
            **dagster_metadata(metadata, MARKDOWN_KEYS, ("replaced_hierarchy_runs", "level_sizes")),
            "summaries_page": dg.MetadataValue.url(
                f"/assets/cluster_summaries?partition={quote(f'{alias}|{run_id}')}"
            ),
            **explorer.run_link(run_id, alias),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=name,
                passed=outcome.passed,
                severity=CHECKS[name][0],
                metadata=outcome.metadata,
            )
            for name, outcome in outcomes.items()
        ],
    )
