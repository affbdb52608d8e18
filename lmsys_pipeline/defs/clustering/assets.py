"""``cluster_run``: one partition per clustering run, writing ClusteringRun + QueryCluster."""

import dagster as dg
from pydantic import Field, ValidationError

from lmsys_pipeline.clustering.algorithms import ClusteringInputError
from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.clustering.report import run_metadata
from lmsys_pipeline.clustering.runs import (
    RunNotFound,
    load_run,
    materialize_run,
    params_from_run_id,
    register_run,
)
from lmsys_pipeline.clustering.validation import check_run
from lmsys_pipeline.defs.clustering.partitions import clustering_run_partitions
from lmsys_pipeline.defs.resources import DB_WRITER_POOL, DatabaseResource, user_failure
from lmsys_pipeline.reading.map_png import run_map_markdown

CHECKS = {
    "every_query_assigned_once": "Every embedded query of the run has exactly one row.",
    "num_clusters_matches_assignments": "num_clusters equals the distinct non-noise ids.",
    "confidence_within_documented_range": "Confidence filled and within its documented range.",
    "no_empty_kmeans_cluster": "KMeans: all k clusters have members (passes for HDBSCAN).",
}


class ClusterRunConfig(dg.Config):
    """Used only for a run whose partition was added in the UI and that is not registered
    yet; a registered run always uses its recorded parameters (that is what makes it
    reproducible). Left empty, a key like ``kmeans-50-...`` implies its algorithm and size."""

    algorithm: str | None = Field(default=None, description="kmeans or hdbscan")
    n_clusters: int | None = None
    min_cluster_size: int | None = None
    min_samples: int | None = None
    limit: int | None = None
    seed: int = 42
    description: str | None = None


def _ensure_registered(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, database: DatabaseResource
) -> None:
    run_id = context.partition_key
    try:
        load_run(database.manager, run_id)
        return
    except RunNotFound:
        pass
    if config.algorithm:
        fields = config.model_dump(exclude={"description"}, exclude_none=True)
        params = ClusteringParams(**fields)
    else:
        params = params_from_run_id(run_id)
    if params is None:
        raise dg.Failure(
            description=f"Clustering run {run_id} is not registered and its key does not say "
            "how to cluster: give algorithm and n_clusters or min_cluster_size as config.",
            allow_retries=False,
        )
    register_run(database.manager, params, description=config.description, run_id=run_id)
    context.log.info(f"Registered {run_id} from the UI: {params.model_dump()}")


@dg.asset(
    deps=["query_embeddings"],
    partitions_def=clustering_run_partitions,
    group_name="clustering",
    kinds={"python", "scikitlearn"},
    pool=DB_WRITER_POOL,
    check_specs=[
        dg.AssetCheckSpec(name, asset="cluster_run", description=text, blocking=True)
        for name, text in CHECKS.items()
    ],
    description=(
        "One clustering run per partition (key = run_id): its ClusteringRun row and one "
        "QueryCluster row per embedded query. Re-materializing replaces the run's rows."
    ),
)
def cluster_run(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, database: DatabaseResource
) -> dg.MaterializeResult:
    try:
        _ensure_registered(context, config, database)
        result, vectors = materialize_run(database.manager, context.partition_key)
    except (ClusteringInputError, ValidationError) as error:
        raise user_failure(error) from None
    metadata = run_metadata(database.manager, result, vectors)
    outcomes = check_run(database.manager, result.run_id, len(result.query_ids))
    names = {outcome.name for outcome in outcomes}
    checks = [
        dg.AssetCheckResult(check_name=o.name, passed=o.passed, metadata=o.detail) for o in outcomes
    ]
    checks += [
        dg.AssetCheckResult(check_name=name, passed=True, metadata={"applies_to": "kmeans"})
        for name in CHECKS
        if name not in names
    ]
    context.log.info(
        f"{result.run_id}: {result.fit.num_clusters} clusters over {len(result.query_ids):,} "
        f"queries, noise {result.noise_share:.1%}"
    )
    return dg.MaterializeResult(
        metadata={
            **{
                k: v
                for k, v in metadata.items()
                if k not in ("size_histogram", "largest_clusters", "seconds_by_phase")
            },
            "seconds_by_phase": dg.MetadataValue.json(metadata["seconds_by_phase"]),
            "size_histogram": dg.MetadataValue.md(metadata["size_histogram"]),
            "largest_clusters": dg.MetadataValue.md(metadata["largest_clusters"]),
            "cluster_map": dg.MetadataValue.md(
                run_map_markdown(
                    database.manager,
                    result.run_id,
                    title=f"{result.run_id}: a sample of queries (t-SNE), coloured by cluster",
                )
            ),
        },
        check_results=checks,
    )
