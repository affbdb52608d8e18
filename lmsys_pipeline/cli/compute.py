"""``lmsys load`` and ``lmsys embed`` run their asset through Dagster, so the run lands in the
instance's history (the UI shows it). Settings reach the run as asset config (what the data
will be) or as the command's resources (where the database is); nothing goes through
environment variables. ``lmsys search`` stores nothing: it ranks the stored vectors in this
process, without Dagster."""

from typing import Annotated, Any

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console, error_console, print_json
from lmsys_pipeline.cli.launch import (
    dagster_instance,
    materialization_metadata,
    materialize,
    require_success,
)
from lmsys_pipeline.cli.options import (
    DbUrlOption,
    JsonOption,
    QuietOption,
    VerboseOption,
    database,
    database_resource,
)
from lmsys_pipeline.cli.tables import WORDS, show_metadata_table, titled_table

LOAD_KEYS = (
    "source",
    "rows_read",
    "inserted",
    "skipped",
    "duplicate_text_share",
    "total_queries",
    "seconds",
    "rows_per_second",
)
EMBED_KEYS = (
    "model",
    "dimension",
    "device",
    "engine",
    "new_queries_embedded",
    "texts_embedded",
    "texts_reused",
    "queries_with_vectors",
    "vector_megabytes",
    "seconds",
    "texts_per_second",
    "vector_cache_update",
)


def _run_unpartitioned(
    asset_name: str,
    config: dict[str, Any],
    db_url: str | None,
    *,
    as_json: bool,
    verbose: bool,
    quiet: bool,
    keys: tuple[str, ...],
) -> dict[str, Any] | None:
    """Materializes an unpartitioned asset and prints its report as JSON or a table.
    Returns the report for further printing, or None when it went out as JSON."""
    with dagster_instance() as instance:
        result = materialize(
            instance,
            asset_name,
            config,
            verbose=verbose,
            resources={"database": database_resource(db_url)},
            quiet=quiet,
            as_json=as_json,
        )
    require_success(result)
    metadata = materialization_metadata(result, asset_name)
    if as_json:
        print_json({"dagster_run_id": result.run_id, **metadata})
        return None
    show_metadata_table(f"{asset_name} — Dagster run {result.run_id}", metadata, keys)
    return metadata


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
    quiet: QuietOption = False,
) -> None:
    """Load conversations' first user queries into the database (asset lmsys_queries)."""
    metadata = _run_unpartitioned(
        "lmsys_queries",
        {"source": source, "limit": limit},
        db_url,
        as_json=as_json,
        verbose=verbose,
        quiet=quiet,
        keys=LOAD_KEYS,
    )
    if metadata is None:
        return
    if metadata.get("skipped"):
        console.print(metadata["skipped_by_reason"])
    if metadata.get("timestamps_set_aside"):
        console.print(
            f"{metadata['timestamps_set_aside']:,} timestamps set aside (not a plausible time: "
            "the rows are kept without it, and trends leave them out):"
        )
        console.print(metadata["timestamps_set_aside_by_reason"])
    console.print(metadata["top_languages"])
    for sentence in metadata["unreadable"]:
        error_console.print(f"Skipped {sentence}.", style="yellow")


@app.command()
def embed(
    model: Annotated[
        str | None,
        typer.Option(
            help="Embedding model (default all-MiniLM-L6-v2, offline); a Hugging Face name, "
            "a local folder, or openai/<model> for an API."
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Texts per batch at most (default: batches by a token budget that suits the "
            "device).",
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Queries embedded and committed together (default 4,096 on a CPU, 65,536 on "
            "a large GPU; a kill loses at most one chunk).",
        ),
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Embed every query that has no vector for the model yet (asset query_embeddings)."""
    config = {"model": model, "batch_size": batch_size, "chunk_size": chunk_size}
    _run_unpartitioned(
        "query_embeddings",
        {k: v for k, v in config.items() if v is not None},
        db_url,
        as_json=as_json,
        verbose=verbose,
        quiet=quiet,
        keys=EMBED_KEYS,
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
        str | None,
        typer.Option(help="Embedding model whose vectors to search (default all-MiniLM-L6-v2)."),
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Nearest queries by cosine similarity; filters apply before ranking."""
    from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL, load_embedder
    from lmsys_pipeline.embedding.search import SearchFilters, require_some_vectors
    from lmsys_pipeline.embedding.search import search as run_search

    filters = SearchFilters(
        run_id=run_id,
        cluster_ids=tuple(cluster_id or ()),
        language=language,
        llm_model=llm_model,
    )
    db = database(db_url)
    require_some_vectors(db)
    embedder = load_embedder(model or DEFAULT_MODEL)
    hits = run_search(db, embedder, text, top=top_k, filters=filters)
    if as_json:
        print_json([hit.as_dict() for hit in hits])
        return
    table = titled_table(
        f"{len(hits)} nearest queries to {text!r}",
        [
            ("score", "right"),
            ("query id", "right"),
            ("cluster", "right"),
            ("language", "left", WORDS),
            ("query", "left"),
        ],
    )
    for hit in hits:
        table.add_row(
            f"{hit.score:.3f}",
            str(hit.query_id),
            "" if hit.cluster_id is None else str(hit.cluster_id),
            hit.language or "",
            hit.query_text[:120].replace("\n", " "),
        )
    console.print(table)
