"""``lmsys cluster kmeans|hdbscan``: register a clustering run (a cluster_run partition),
materialize it through Dagster and print the stored run: sizes, reduction, the largest
clusters and their most central queries.

Stopped (Ctrl-C, or SIGTERM, which it takes as Ctrl-C) before its run was materialized, it
says so; the same command run again takes that run up (``clustering/unfinished.py``) rather
than registering another beside it, unless a live process is working on it
(``run_claims.py``)."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console, error_console, print_json
from lmsys_pipeline.cli.launch import dagster_instance, materialize, require_success
from lmsys_pipeline.cli.options import (
    DbUrlOption,
    DescriptionOption,
    EmbeddingModelOption,
    JsonOption,
    QuietOption,
    RunLimitOption,
    SeedOption,
    VerboseOption,
    database,
    database_resource,
)
from lmsys_pipeline.cli.tables import titled_table

cluster_app = typer.Typer(
    help="Create a clustering run (a cluster_run partition) and run it.", no_args_is_help=True
)
app.add_typer(cluster_app, name="cluster")


def _cluster(
    algorithm: str,
    fields: dict[str, Any],
    description: str | None,
    db_url: str | None,
    as_json: bool,
    verbose: bool,
    quiet: bool,
) -> None:
    from lmsys_pipeline.clustering.registry import build_params
    from lmsys_pipeline.clustering.runs import load_run
    from lmsys_pipeline.clustering.unfinished import never_materialized
    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.defs.clustering.prepare import prepare_clustering_run
    from lmsys_pipeline.reading.runs import run_overview
    from lmsys_pipeline.run_claims import run_claims

    params = build_params(algorithm, fields)
    db = database(db_url)
    with (
        sigterm_as_interrupt(),
        dagster_instance() as instance,
        run_claims(ensure_dagster_home()) as claims,
    ):
        with claims.choosing():
            run = _take_up_unfinished(db, instance, claims, params, description)
            if run is None:
                run = prepare_clustering_run(db, instance, params=params, description=description)
                claims.claim(run.run_id)
        try:
            result = materialize(
                instance,
                "cluster_run",
                {},
                verbose=verbose,
                resources={"database": database_resource(db_url)},
                partition_key=run.run_id,
                quiet=quiet,
                as_json=as_json,
            )
        except KeyboardInterrupt:
            if never_materialized(load_run(db, run.run_id)[0].parameters or {}):
                error_console.print(
                    f"Interrupted: {run.run_id} is registered but not clustered yet; run the "
                    "same command again to resume it.",
                    style="yellow",
                )
                raise typer.Exit(code=130) from None
            raise
    require_success(result, f"{run.run_id}: ")
    overview = run_overview(db, run.run_id)
    if as_json:
        print_json({"dagster_run_id": result.run_id, **overview.as_dict()})
        return
    row, recorded = overview.run, overview.parameters
    console.print(f"{row.run_id} (Dagster run {result.run_id})", style="bold")
    console.print(
        f"  {row.num_clusters or 0:,} clusters over {row.num_queries:,} queries, noise "
        f"{row.noise_share:.1%}, largest cluster {overview.size_max / max(row.num_queries, 1):.1%}"
        f"; sizes {overview.size_min:,} / {overview.size_median:,.0f} / {overview.size_max:,} "
        "(min / median / max)"
    )
    console.print(f"  {reduction_summary(recorded)}")
    table = titled_table(
        "largest clusters and their most central queries",
        [("cluster", "right"), ("queries", "right"), ("queries", "left")],
    )
    for cluster_id, size, texts in overview.largest:
        table.add_row(
            str(cluster_id),
            f"{size:,}",
            " · ".join(" ".join(t.split())[:80] for t in texts),
        )
    console.print(table)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, ``docker stop``, a CI time-out) stops the command as Ctrl-C does:
    the Dagster run ends failed and the command says what to do, instead of dying silently."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _take_up_unfinished(db, instance, claims, params, description):
    """The oldest run registered with these parameters that was never materialized and that
    no live process is working on, claimed and announced; None if there is none."""
    from lmsys_pipeline.clustering.unfinished import take_up, unfinished_runs
    from lmsys_pipeline.defs.clustering.prepare import prepare_clustering_run
    from lmsys_pipeline.run_claims import materializing

    for candidate in unfinished_runs(db, params, description):
        if materializing(instance, candidate.run_id) or not claims.claim(candidate.run_id):
            continue
        take_up(db, candidate.run_id)
        error_console.print(
            f"Resuming {candidate.run_id}: registered with these parameters by an earlier "
            "lmsys cluster that did not finish it."
        )
        return prepare_clustering_run(db, instance, run_id=candidate.run_id)
    return None


def reduction_summary(parameters: dict[str, Any]) -> str:
    """How a run's vectors were reduced, from its recorded parameters, in one line."""
    reduction = parameters.get("reduction", "pca")
    fallback = parameters.get("reduction_fallback")
    if fallback:
        return f"reduction: {fallback}"
    if reduction == "none":
        return "reduction: none (the vectors whole)"
    text = f"reduction: {reduction} to {parameters.get('reduce_dims')} dimensions"
    fitted, queries = parameters.get("fitted_rows"), parameters.get("n_queries")
    if reduction == "umap" and fitted and queries and fitted < queries:
        text += f", fitted on a sample of {fitted:,} queries (the rest assigned)"
    return text


ReductionOption = Annotated[
    str | None,
    typer.Option(
        help="How vectors are reduced first: umap (default; best clusters), pca (fast) or none."
    ),
]
ReduceDimsOption = Annotated[
    int | None, typer.Option(help="Dimensions after the reduction (default 5 for umap).")
]
UmapNeighborsOption = Annotated[
    int | None, typer.Option(help="UMAP: neighbours per query (default 15).")
]
UmapMinDistOption = Annotated[
    float | None, typer.Option(help="UMAP: how tightly points may pack (default 0).")
]
UmapSampleOption = Annotated[
    int | None,
    typer.Option(
        help="UMAP is fitted on a seeded sample of this many queries (default 50,000); the "
        "rest are assigned in the original space."
    ),
]


@cluster_app.command("kmeans")
def cluster_kmeans(
    n_clusters: Annotated[int, typer.Option("--n-clusters", "-k", help="Number of clusters.")],
    description: DescriptionOption = None,
    limit: RunLimitOption = None,
    n_init: Annotated[
        int | None, typer.Option(help="Initialisations; the best is kept (default 10).")
    ] = None,
    reduction: ReductionOption = None,
    reduce_dims: ReduceDimsOption = None,
    umap_neighbors: UmapNeighborsOption = None,
    umap_min_dist: UmapMinDistOption = None,
    umap_sample: UmapSampleOption = None,
    seed: SeedOption = None,
    embedding_model: EmbeddingModelOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """KMeans after a reduction (UMAP by default; --reduction pca is the fast path). Prints
    the new run id."""
    _cluster(
        "kmeans",
        {
            "n_clusters": n_clusters,
            "limit": limit,
            "n_init": n_init,
            "reduction": reduction,
            "reduce_dims": reduce_dims,
            "umap_neighbors": umap_neighbors,
            "umap_min_dist": umap_min_dist,
            "umap_sample": umap_sample,
            "seed": seed,
            "embedding_model": embedding_model,
        },
        description,
        db_url,
        as_json,
        verbose,
        quiet,
    )


@cluster_app.command("hdbscan")
def cluster_hdbscan(
    min_cluster_size: Annotated[
        int | None,
        typer.Option(
            "--min-cluster-size",
            help="Smallest cluster, in queries (default: max(10, queries / 400), recorded "
            "with the run).",
        ),
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="HDBSCAN min_samples (default 5).")
    ] = None,
    reduction: ReductionOption = None,
    reduce_dims: ReduceDimsOption = None,
    umap_neighbors: UmapNeighborsOption = None,
    umap_min_dist: UmapMinDistOption = None,
    umap_sample: UmapSampleOption = None,
    assign_noise: Annotated[bool, typer.Option(help="Move noise to the nearest cluster.")] = False,
    backend: Annotated[str | None, typer.Option(help="fast_hdbscan (default) or hdbscan.")] = None,
    description: DescriptionOption = None,
    limit: RunLimitOption = None,
    seed: SeedOption = None,
    embedding_model: EmbeddingModelOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """HDBSCAN after a reduction (UMAP by default); noise is stored as cluster -1. Prints the
    new run id."""
    _cluster(
        "hdbscan",
        {
            "min_cluster_size": min_cluster_size,
            "min_samples": min_samples,
            "reduction": reduction,
            "reduce_dims": reduce_dims,
            "umap_neighbors": umap_neighbors,
            "umap_min_dist": umap_min_dist,
            "umap_sample": umap_sample,
            "assign_noise": assign_noise,
            "backend": backend,
            "limit": limit,
            "seed": seed,
            "embedding_model": embedding_model,
        },
        description,
        db_url,
        as_json,
        verbose,
        quiet,
    )
