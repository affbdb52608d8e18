"""``cluster_lineage``: one partition per clustering run (the later run), relating its clusters
to an earlier run's. Materialized by ``cluster_run_job`` right after each scheduled run."""

import dagster as dg
from pydantic import Field

from lmsys_pipeline.defs.clustering.partitions import clustering_run_partitions
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import DatabaseResource, ExplorerResource
from lmsys_pipeline.lineage.report import build_report
from lmsys_pipeline.lineage.runs import compute_lineage, previous_run, write_lineage

SHOWN = 10


class LineageConfig(dg.Config):
    from_run_id: str | None = Field(
        default=None,
        description="Compare with this run (default: the run of the same algorithm and "
        "embedding model registered last before this one).",
    )


def _growing(lineage) -> str:
    """Continuing clusters whose share of the run grew most (``lmsys diff``'s "grown")."""
    grown = build_report(lineage, {}, {}).sections["grown"][:SHOWN]
    lines = ["| from | to | share before | after |", "|---|---|---|---|"]
    for change in grown:
        lines.append(
            f"| {change.before[0].cluster_id} | {change.after[0].cluster_id} "
            f"| {change.share_before:.2%} | {change.share_after:.2%} |"
        )
    return "\n".join(lines)


def _table(relations, kind: str) -> str:
    chosen = sorted(
        (r for r in relations if r.kind == kind), key=lambda r: -(r.to_size or r.from_size)
    )[:SHOWN]
    lines = [
        "| from | to | queries before | after | overlap | cosine |",
        "|---|---|---|---|---|---|",
    ]
    for r in chosen:
        lines.append(
            f"| {'' if r.from_cluster_id is None else r.from_cluster_id} "
            f"| {'' if r.to_cluster_id is None else r.to_cluster_id} | {r.from_size:,} "
            f"| {r.to_size:,} | {r.overlap:.2f} | {'' if r.cosine is None else f'{r.cosine:.2f}'} |"
        )
    return "\n".join(lines)


@dg.asset(
    deps=["cluster_run"],
    partitions_def=clustering_run_partitions,
    group_name="clustering",
    kinds={"python"},
    description=(
        "How the clusters of this run (the partition) relate to an earlier run's: continues, "
        "split, merged, new, gone (cluster_lineage rows), matched by shared queries and "
        "centroid cosine. Re-materializing replaces the pair's rows."
    ),
)
def cluster_lineage(
    context: dg.AssetExecutionContext,
    config: LineageConfig,
    database: DatabaseResource,
    explorer: ExplorerResource,
) -> dg.MaterializeResult:
    db = database.manager
    run_id = context.partition_key
    with user_failures():
        from_run_id = config.from_run_id or previous_run(db, run_id)
        if from_run_id is None:
            context.log.info(f"{run_id}: no earlier run of its algorithm and model to compare.")
            return dg.MaterializeResult(
                metadata={"from_run_id": None, "rows": 0, **explorer.run_link(run_id)}
            )
        lineage = compute_lineage(db, from_run_id, run_id)
        written = write_lineage(db, lineage)
    counts = lineage.counts()
    context.log.info(f"{from_run_id} -> {run_id}: {counts}")
    return dg.MaterializeResult(
        metadata={
            "from_run_id": from_run_id,
            "rows": written,
            **{f"clusters_{kind}": count for kind, count in counts.items()},
            "link_threshold": lineage.thresholds.link,
            "centroid_threshold": lineage.thresholds.centroid,
            **{
                f"{kind}_clusters": dg.MetadataValue.md(_table(lineage.relations, kind))
                for kind in ("new", "split", "merged", "gone")
            },
            "fastest_growing_clusters": dg.MetadataValue.md(_growing(lineage)),
            **explorer.run_link(run_id),
        }
    )
