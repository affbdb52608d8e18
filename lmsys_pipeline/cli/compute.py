"""Commands that compute: each runs an asset through Dagster, so the run lands in the
instance's history (the UI shows it)."""

import json
import os
from typing import Annotated, Any

import typer
from rich.table import Table

from lmsys_pipeline.cli.common import (
    DbUrlOption,
    DescriptionOption,
    EmbeddingModelOption,
    JsonOption,
    RunLimitOption,
    SeedOption,
    VerboseOption,
    app,
    console,
    fail,
    materialization_metadata,
    materialize,
    run_and_show,
    run_failure_message,
    use_database,
)


@app.command()
def load(
    source: Annotated[
        str | None,
        typer.Option(
            help="Hub dataset id, local parquet/jsonl/json file, folder or glob "
            "(default: the bundled sample)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most N rows.")] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Load conversations' first user queries into the database (asset lmsys_queries)."""
    use_database(db_url)
    metadata = run_and_show(
        "lmsys_queries",
        {"source": source, "limit": limit},
        as_json=as_json,
        verbose=verbose,
        keys=(
            "source",
            "rows_read",
            "inserted",
            "skipped",
            "duplicate_text_share",
            "total_queries",
            "seconds",
            "rows_per_second",
        ),
    )
    if metadata is None:
        return
    if metadata.get("skipped"):
        console.print(metadata.get("skipped_by_reason", ""))
    console.print(metadata.get("top_languages", ""))


@app.command()
def embed(
    model: Annotated[
        str,
        typer.Option(
            help="Embedding model (default all-MiniLM-L6-v2, offline); openai/<model> for an API."
        ),
    ] = "all-MiniLM-L6-v2",
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model call.")] = 64,
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1, help="Queries embedded and committed together (a kill loses at most one chunk)."
        ),
    ] = 4_096,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Embed every query that has no vector for the model yet (asset query_embeddings)."""
    use_database(db_url)
    run_and_show(
        "query_embeddings",
        {"model": model, "batch_size": batch_size, "chunk_size": chunk_size},
        as_json=as_json,
        verbose=verbose,
        keys=(
            "model",
            "dimension",
            "device",
            "new_queries_embedded",
            "texts_embedded",
            "texts_reused",
            "queries_with_vectors",
            "vector_megabytes",
            "seconds",
            "texts_per_second",
        ),
    )


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="What to look for.")],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only queries of this clustering run.")
    ] = None,
    cluster_id: Annotated[
        list[int] | None,
        typer.Option("--cluster-id", help="Only these clusters (repeatable; needs --run-id)."),
    ] = None,
    language: Annotated[str | None, typer.Option(help="Only queries in this language.")] = None,
    llm_model: Annotated[
        str | None,
        typer.Option(
            "--llm-model", help="Only conversations with this LLM (the Query.model column)."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many results.")] = 10,
    model: Annotated[
        str, typer.Option(help="Embedding model whose vectors to search.")
    ] = "all-MiniLM-L6-v2",
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Nearest queries by cosine similarity; filters apply before ranking."""
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.embedders import EmbedderError, load_embedder
    from lmsys_pipeline.embedding.search import SearchError, SearchFilters
    from lmsys_pipeline.embedding.search import search as run_search

    use_database(db_url)
    filters = SearchFilters(
        run_id=run_id, cluster_ids=tuple(cluster_id or ()), language=language, llm_model=llm_model
    )
    db = DatabaseManager()
    try:
        hits = run_search(db, load_embedder(model), text, top=top_k, filters=filters)
    except (SearchError, EmbedderError, LookupError) as error:
        fail(str(error).strip("'\""))
    if as_json:
        print(json.dumps([hit.as_dict() for hit in hits], ensure_ascii=False))
        return
    table = Table(title=f"{len(hits)} nearest queries to {text!r}")
    for name, justify in [
        ("score", "right"),
        ("query id", "right"),
        ("cluster", "right"),
        ("language", "left"),
        ("query", "left"),
    ]:
        table.add_column(name, justify=justify)
    for hit in hits:
        table.add_row(
            f"{hit.score:.3f}",
            str(hit.query_id),
            "" if hit.cluster_id is None else str(hit.cluster_id),
            hit.language or "",
            hit.query_text[:120].replace("\n", " "),
        )
    console.print(table)


cluster_app = typer.Typer(
    help="Create a clustering run (a cluster_run partition) and run it.", no_args_is_help=True
)
app.add_typer(cluster_app, name="cluster")


def _cluster(
    params_fields: dict[str, Any],
    description: str | None,
    db_url: str | None,
    as_json: bool,
    verbose: bool,
) -> None:
    from pydantic import ValidationError

    from lmsys_pipeline.clustering.algorithms import ClusteringInputError
    from lmsys_pipeline.clustering.params import ClusteringParams
    from lmsys_pipeline.clustering.runs import register_run
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS

    use_database(db_url)
    try:
        params = ClusteringParams(**{k: v for k, v in params_fields.items() if v is not None})
    except ValidationError as error:
        fail(error.errors()[0]["msg"].removeprefix("Value error, "))
    try:
        run = register_run(DatabaseManager(), params, description=description)
    except ClusteringInputError as error:
        fail(str(error))
    result = materialize(
        "cluster_run", {}, verbose=verbose, partition=(CLUSTERING_RUNS, run.run_id)
    )
    if not result.success:
        fail(f"{run.run_id}: {run_failure_message(result)}")
    metadata = materialization_metadata(result, "cluster_run")
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": run.run_id,
                    "dagster_run_id": result.run_id,
                    **{
                        k: v
                        for k, v in metadata.items()
                        if k not in ("largest_clusters", "size_histogram")
                    },
                },
                default=str,
            )
        )
        return
    console.print(f"[bold]{run.run_id}[/bold] (Dagster run {result.run_id})")
    for key in (
        "num_clusters",
        "num_queries",
        "noise_share",
        "size_min",
        "size_median",
        "size_max",
        "silhouette_cosine_sample",
        "seconds_by_phase",
    ):
        console.print(f"  {key}: {metadata.get(key)}")
    console.print(metadata.get("largest_clusters", ""))


@cluster_app.command("kmeans")
def cluster_kmeans(
    n_clusters: Annotated[int, typer.Option("--n-clusters", "-k", help="Number of clusters.")],
    description: DescriptionOption = None,
    limit: RunLimitOption = None,
    n_init: Annotated[int, typer.Option(help="Initialisations; the best is kept.")] = 10,
    seed: SeedOption = 42,
    embedding_model: EmbeddingModelOption = "all-MiniLM-L6-v2",
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """KMeans on the L2-normalised vectors; prints the new run id."""
    _cluster(
        {
            "algorithm": "kmeans",
            "n_clusters": n_clusters,
            "limit": limit,
            "n_init": n_init,
            "seed": seed,
            "embedding_model": embedding_model,
        },
        description,
        db_url,
        as_json,
        verbose,
    )


@cluster_app.command("hdbscan")
def cluster_hdbscan(
    min_cluster_size: Annotated[int, typer.Option("--min-cluster-size", help="Smallest cluster.")],
    min_samples: Annotated[int | None, typer.Option(help="HDBSCAN min_samples.")] = None,
    reduce_dims: Annotated[int, typer.Option(help="PCA dimensions before HDBSCAN.")] = 10,
    assign_noise: Annotated[bool, typer.Option(help="Move noise to the nearest cluster.")] = False,
    backend: Annotated[
        str, typer.Option(help="fast_hdbscan (default) or hdbscan.")
    ] = "fast_hdbscan",
    description: DescriptionOption = None,
    limit: RunLimitOption = None,
    seed: SeedOption = 42,
    embedding_model: EmbeddingModelOption = "all-MiniLM-L6-v2",
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """HDBSCAN after PCA; noise is stored as cluster -1. Prints the new run id."""
    _cluster(
        {
            "algorithm": "hdbscan",
            "min_cluster_size": min_cluster_size,
            "min_samples": min_samples,
            "reduce_dims": reduce_dims,
            "assign_noise": assign_noise,
            "hdbscan_backend": backend,
            "limit": limit,
            "seed": seed,
            "embedding_model": embedding_model,
        },
        description,
        db_url,
        as_json,
        verbose,
    )


@app.command()
def summarize(
    run_id: Annotated[str, typer.Argument(help="The clustering run to summarise.")],
    alias: Annotated[
        str | None,
        typer.Option(
            help="Name of this summary run (default: the "
            "model's name); re-using it resumes or "
            "replaces it."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="provider/name, e.g. openai/gpt-4o-mini, "
            "anthropic/claude-sonnet-4-5, ollama/llama3.1, "
            "vllm/<model>; default $LMSYS_SUMMARY_MODEL, "
            "else local/keywords (offline)."
        ),
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Queries shown per cluster (default 20).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default 8).")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute at most.")] = None,
    contrast_neighbors: Annotated[
        int | None, typer.Option(help="Nearest clusters shown for contrast (default 3).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server URL (default: the provider's, or $OPENAI_BASE_URL)."
        ),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request (default 60).")] = None,
    restart: Annotated[
        bool, typer.Option(help="Start the alias afresh instead of resuming.")
    ] = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Name and describe every cluster of a run (asset cluster_summaries, partition run x
    alias). Prints the alias, its summary_run_id and the titles."""
    from pydantic import ValidationError

    from lmsys_pipeline.clustering.runs import RunNotFound, load_run
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
    from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
    from lmsys_pipeline.summarizing.ledger import params_for
    from lmsys_pipeline.summarizing.params import check_alias, default_alias, default_model
    from lmsys_pipeline.summarizing.providers import BASE_URL_ENV, ProviderError, resolve_endpoint
    from lmsys_pipeline.summarizing.runner import summary_titles

    use_database(db_url)
    if base_url:
        os.environ[BASE_URL_ENV] = base_url
    overrides = {
        "model": model,
        "max_queries": max_queries,
        "concurrency": concurrency,
        "rpm": rpm,
        "contrast_neighbors": contrast_neighbors,
        "timeout_s": timeout,
    }
    try:
        load_run(DatabaseManager(), run_id)
        alias = check_alias(alias or default_alias(model or default_model()))
        params = params_for(DatabaseManager(), run_id, alias, overrides)
        if not params.is_offline:
            resolve_endpoint(params.model)
    except ValidationError as error:
        fail(error.errors()[0]["msg"].removeprefix("Value error, "))
    except (RunNotFound, ProviderError, ValueError) as error:
        fail(str(error).strip("'\""))
    result = materialize(
        "cluster_summaries",
        {**{k: v for k, v in overrides.items() if v is not None}, "restart": restart},
        verbose=verbose,
        partition_key=summary_partition_key(run_id, alias),
        new_partitions={CLUSTERING_RUNS: run_id, SUMMARY_ALIASES: alias},
    )
    if not result.success:
        fail(f"{alias} on {run_id}: {run_failure_message(result)}")
    metadata = materialization_metadata(result, "cluster_summaries")
    if as_json:
        print(json.dumps({"dagster_run_id": result.run_id, **metadata}, default=str))
        return
    console.print(
        f"[bold]{alias}[/bold] on {run_id}: {metadata['summary_run_id']} "
        f"({metadata['model']}, Dagster run {result.run_id})"
    )
    for key in (
        "status",
        "clusters_done",
        "clusters_failed",
        "requests",
        "cached_responses",
        "tokens_in",
        "tokens_out",
        "estimated_cost_usd",
        "seconds",
        "label_accuracy",
    ):
        console.print(f"  {key}: {metadata.get(key)}")
    if metadata.get("clusters_failed"):
        console.print(metadata["failures"])
    titles = summary_titles(DatabaseManager(), metadata["summary_run_id"])
    table = Table(title=f"Clusters of {run_id} by size — {alias}")
    for name, justify in [("cluster", "right"), ("queries", "right"), ("title", "left")]:
        table.add_column(name, justify=justify)
    for cluster, row in sorted(titles.items(), key=lambda i: (-i[1].size, i[0])):
        table.add_row(str(cluster), f"{row.size:,}", row.title or "")
    console.print(table)
