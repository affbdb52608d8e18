"""``cluster_run``: one partition per clustering run, writing ClusteringRun + QueryCluster."""

import dagster as dg
from pydantic import Field

from lmsys_pipeline.clustering.registry import build_params
from lmsys_pipeline.clustering.report import run_metadata
from lmsys_pipeline.clustering.runs import materialize_run
from lmsys_pipeline.clustering.validation import CHECKS, check_run, record_outcomes
from lmsys_pipeline.curation.replay import replay_edits
from lmsys_pipeline.defs.clustering.partitions import clustering_run_partitions
from lmsys_pipeline.defs.clustering.prepare import prepare_clustering_run
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import (
    DB_WRITER_POOL,
    DatabaseResource,
    ExplorerResource,
    ProgressResource,
)
from lmsys_pipeline.outputs.map_png import run_map_markdown

MARKDOWN_KEYS = ("size_histogram", "largest_clusters")


class ClusterRunConfig(dg.Config):
    """Used only for a run whose partition was added in the UI and that is not registered
    yet; a registered run always uses its recorded parameters (that is what makes it
    reproducible). Left empty, a key like ``kmeans-50-...`` implies its algorithm and size."""

    algorithm: str | None = Field(default=None, description="kmeans or hdbscan")
    n_clusters: int | None = Field(default=None, description="KMeans: k.")
    min_cluster_size: int | None = Field(
        default=None, description="HDBSCAN: smallest cluster (default max(10, queries / 400))."
    )
    min_samples: int | None = Field(default=None, description="HDBSCAN: min_samples (5).")
    assign_noise: bool | None = Field(default=None, description="HDBSCAN: noise to clusters.")
    reduction: str | None = Field(default=None, description="umap (default), pca or none.")
    reduce_dims: int | None = Field(default=None, description="Dimensions after reduction.")
    umap_neighbors: int | None = Field(default=None, description="UMAP: neighbours (15).")
    umap_min_dist: float | None = Field(default=None, description="UMAP: min_dist (0).")
    umap_sample: int | None = Field(
        default=None, description="UMAP: fitted on a seeded sample this large (50,000)."
    )
    limit: int | None = Field(default=None, description="Only the first N embedded queries.")
    seed: int | None = Field(default=None, description="Random seed (default 42).")
    embedding_model: str | None = Field(default=None, description="Whose vectors to cluster.")
    description: str | None = None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "cluster_run",
            deps=["query_embeddings"],
            group_name="clustering",
            kinds={"python", "scikitlearn"},
            description=(
                "One clustering run per partition (key = run_id): its ClusteringRun row and "
                "one QueryCluster row per embedded query. Re-materializing replaces the run's "
                "rows."
            ),
        )
    ],
    partitions_def=clustering_run_partitions,
    pool=DB_WRITER_POOL,
    # A check that does not apply to the run's algorithm is left out, not reported as passed.
    can_subset=True,
    check_specs=[
        dg.AssetCheckSpec(name, asset="cluster_run", description=text, blocking=True)
        for name, text in CHECKS.items()
    ],
)
def cluster_run(
    context: dg.AssetExecutionContext,
    config: ClusterRunConfig,
    database: DatabaseResource,
    progress: ProgressResource,
    explorer: ExplorerResource,
):
    db = database.manager
    with user_failures():
        fields = config.model_dump(exclude={"algorithm", "description"})
        params = build_params(config.algorithm, fields) if config.algorithm else None
        run = prepare_clustering_run(
            db,
            context.instance,
            run_id=context.partition_key,
            params=params,
            description=config.description,
        )
        result, vectors = materialize_run(db, run.run_id, progress.reporter(context.log.info))
    # The checks judge the fit; a person's edits are applied again after them.
    outcomes = check_run(db, result.run_id, len(result.query_ids))
    record_outcomes(db, result.run_id, outcomes)
    replayed = replay_edits(db, result.run_id)
    if replayed.not_applied:
        context.log.warning(f"Edits not applied again: {replayed.not_applied}")
    metadata = run_metadata(db, result, vectors)
    context.log.info(
        f"{result.run_id}: {result.fit.num_clusters} clusters over {len(result.query_ids):,} "
        f"queries, noise {result.noise_share:.1%}"
    )
    yield dg.MaterializeResult(
        asset_key="cluster_run",
        metadata={
            **{k: v for k, v in metadata.items() if k not in MARKDOWN_KEYS},
            "seconds_by_phase": dg.MetadataValue.json(metadata["seconds_by_phase"]),
            **{k: v for k, v in replayed.as_metadata().items() if not k.endswith("_why")},
            "edits_not_applied_why": dg.MetadataValue.json(
                replayed.as_metadata()["edits_not_applied_why"]
            ),
            **{k: dg.MetadataValue.md(metadata[k]) for k in MARKDOWN_KEYS},
            "cluster_map": dg.MetadataValue.md(
                run_map_markdown(
                    db,
                    result.run_id,
                    title=f"{result.run_id}: a sample of queries (t-SNE), coloured by cluster",
                )
            ),
            **explorer.run_link(result.run_id),
        },
    )
    for outcome in outcomes:
        yield dg.AssetCheckResult(
            asset_key="cluster_run",
            check_name=outcome.name,
            passed=outcome.passed,
            metadata=outcome.detail,
        )
