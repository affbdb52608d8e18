"""``cluster_summaries``: one summary run per clustering run x alias partition."""

from urllib.parse import quote

import dagster as dg
from pydantic import Field

from lmsys_pipeline.curation.replay import TITLE_EDITS, replay_edits
from lmsys_pipeline.defs.resources import (
    DatabaseResource,
    EmbedderResource,
    ExplorerResource,
    LLMResource,
    ProgressResource,
)
from lmsys_pipeline.defs.summarizing.alias_run import dagster_metadata, run_partition
from lmsys_pipeline.defs.summarizing.partitions import RUN_DIMENSION, summary_partitions
from lmsys_pipeline.outputs.map_png import run_map_markdown
from lmsys_pipeline.summarizing.kind import SUMMARY_RUNS
from lmsys_pipeline.summarizing.report import summary_metadata

MARKDOWN_KEYS = ("titles", "failures", "size_histogram")


class SummarizeConfig(dg.Config):
    """What the summaries say. Left empty, a partition resumes its alias with the settings it
    last used (or the defaults: $LMSYS_SUMMARY_MODEL, else the offline keyphrase summarizer).
    The server, its key and the request limits belong to the ``llm`` resource."""

    model: str | None = Field(
        default=None, description="provider/name, local/keyphrase or local/keywords"
    )
    max_queries: int | None = Field(default=None, description="Queries shown per cluster.")
    contrast_neighbors: int | None = Field(
        default=None, description="Nearest clusters shown for contrast."
    )
    carry_from: str | None = Field(
        default=None,
        description="Reuse this alias's titles from the previous run for continuing clusters.",
    )
    restart: bool = Field(
        default=False,
        description="Start a new summary run even if the alias could be resumed, and ask the "
        "model again (answers cached before are not used).",
    )
    summary_run_id: str | None = Field(
        default=None, description="Continue exactly this summary run (set by lmsys summarize)."
    )


@dg.asset(
    # Each partition reads the cluster_run partition of its clustering_run dimension.
    deps=[
        dg.AssetDep(
            "cluster_run",
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name=RUN_DIMENSION
            ),
        )
    ],
    partitions_def=summary_partitions,
    group_name="summarizing",
    kinds={"python", "openai"},
    check_specs=[
        dg.AssetCheckSpec(
            "every_cluster_summarized",
            asset="cluster_summaries",
            description="Every cluster of the clustering run has a row in this summary run.",
        )
    ],
    description=(
        "One summary run per partition (clustering run x alias): a ClusterSummary row per "
        "cluster with an LLM's (or the offline keyword summarizer's) title and description, "
        "and a summary_runs ledger row. Re-materializing resumes the alias (only clusters "
        "without a row are asked for); new parameters replace its rows. One process at a "
        "time per alias (a lease in alias_leases): a second one fails at once."
    ),
)
def cluster_summaries(
    context: dg.AssetExecutionContext,
    config: SummarizeConfig,
    database: DatabaseResource,
    embedder: EmbedderResource,
    llm: LLMResource,
    progress: ProgressResource,
    explorer: ExplorerResource,
) -> dg.MaterializeResult:
    run_id, alias, report = run_partition(
        SUMMARY_RUNS, context, config, database, embedder, llm, progress
    )
    renames = replay_edits(database.manager, run_id, TITLE_EDITS)
    metadata = summary_metadata(report)
    entry = report.entry
    check = dg.AssetCheckResult(
        check_name="every_cluster_summarized",
        passed=entry.clusters_failed == 0 and entry.clusters_done == entry.clusters_total,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "clusters_total": entry.clusters_total,
            "clusters_done": entry.clusters_done,
            "clusters_failed": entry.clusters_failed,
        },
    )
    context.log.info(
        f"{entry.summary_run_id}: {entry.clusters_done}/{entry.clusters_total} "
        f"clusters labelled, label accuracy {entry.label_accuracy}"
    )
    return dg.MaterializeResult(
        metadata={
            **dagster_metadata(
                metadata,
                MARKDOWN_KEYS,
                ("replaced_summary_runs", "carried_from"),
                {
                    "renames_replayed": len(renames.applied),
                    "renames_not_applied": dg.MetadataValue.json(
                        renames.as_metadata()["edits_not_applied_why"]
                    ),
                },
            ),
            "clustering_run_page": dg.MetadataValue.url(
                f"/assets/cluster_run?partition={quote(run_id)}"
            ),
            "cluster_map": dg.MetadataValue.md(
                run_map_markdown(
                    database.manager,
                    run_id,
                    title=f"{run_id}: clusters summarised by {alias} (ids as in the titles table)",
                )
            ),
            **explorer.run_link(run_id, alias),
        },
        check_results=[check],
    )
