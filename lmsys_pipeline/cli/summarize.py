"""``lmsys summarize``: a summary run through Dagster, reported from its ledger row."""

from typing import Annotated

import typer
from rich.table import Table

from lmsys_pipeline.cli.common import (
    DbUrlOption,
    JsonOption,
    VerboseOption,
    app,
    console,
    dagster_instance,
    database,
    database_resource,
    error_console,
    materialize,
    print_json,
    require_success,
)

LEDGER_FIELDS = (
    "status",
    "clusters_total",
    "clusters_done",
    "clusters_failed",
    "requests",
    "cached_responses",
    "tokens_in",
    "tokens_out",
    "estimated_cost_usd",
    "seconds",
    "label_accuracy",
)


@app.command()
def summarize(
    run_id: Annotated[str, typer.Argument(help="The clustering run to summarise.")],
    alias: Annotated[
        str | None,
        typer.Option(
            help="Name of this summary run (default: the model's name); re-using it resumes "
            "or replaces it."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="provider/name, e.g. openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, "
            "ollama/llama3.1, vllm/<model>; default $LMSYS_SUMMARY_MODEL, else "
            "local/keywords (offline)."
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
    max_retries: Annotated[
        int | None,
        typer.Option(min=0, help="Retries of 429 / 5xx / timeouts, with backoff (default 5)."),
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Start the alias afresh instead of resuming.")
    ] = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Name and describe every cluster of a run (asset cluster_summaries, partition run x
    alias). Prints the alias, its summary_run_id and the titles."""
    from lmsys_pipeline.db.summaries import SummaryRun
    from lmsys_pipeline.defs.resources import LLMResource
    from lmsys_pipeline.defs.summarizing.partitions import summary_partition_key
    from lmsys_pipeline.defs.summarizing.prepare import prepare_summary_run
    from lmsys_pipeline.summarizing.params import default_alias, default_model
    from lmsys_pipeline.summarizing.runner import summary_titles

    given = {
        "concurrency": concurrency,
        "rpm": rpm,
        "timeout_s": timeout,
        "max_retries": max_retries,
        "base_url": base_url,
    }
    llm = LLMResource(**{k: v for k, v in given.items() if v is not None})
    overrides = {
        "model": model,
        "max_queries": max_queries,
        "contrast_neighbors": contrast_neighbors,
    }
    alias = alias or default_alias(model or default_model())
    db = database(db_url)
    with dagster_instance() as instance:
        prepared = prepare_summary_run(db, instance, run_id, alias, overrides, llm, restart=restart)
        result = materialize(
            instance,
            "cluster_summaries",
            {
                **{k: v for k, v in overrides.items() if v is not None},
                "summary_run_id": prepared.summary_run_id,
            },
            verbose=verbose,
            resources={"database": database_resource(db_url), "llm": llm},
            partition_key=summary_partition_key(run_id, alias),
        )
    require_success(result, f"{alias} on {run_id}: ")
    with db.get_session() as session:
        entry = session.get(SummaryRun, prepared.summary_run_id)
    ledger = {field: getattr(entry, field) for field in LEDGER_FIELDS}
    if entry.status == "partial":
        error_console.print(
            f"{entry.clusters_failed} of {entry.clusters_total} clusters failed "
            f"({'; '.join(sorted(set(entry.failures.values())))}): run the same command again "
            "to ask only for them.",
            style="yellow",
        )
    if as_json:
        print_json(
            {
                "dagster_run_id": result.run_id,
                "run_id": run_id,
                "alias": alias,
                "summary_run_id": entry.summary_run_id,
                "model": entry.model,
                **ledger,
                "failures": entry.failures,
            }
        )
        return
    console.print(
        f"{alias} on {run_id}: {entry.summary_run_id} ({entry.model}, Dagster run {result.run_id})",
        style="bold",
    )
    for field, value in ledger.items():
        console.print(f"  {field}: {value}")
    for cluster, reason in (entry.failures or {}).items():
        console.print(f"  cluster {cluster} failed: {reason}")
    titles = summary_titles(db, entry.summary_run_id)
    table = Table(title=f"Clusters of {run_id} by size — {alias}")
    for name, justify in [("cluster", "right"), ("queries", "right"), ("title", "left")]:
        table.add_column(name, justify=justify)
    for cluster, row in sorted(titles.items(), key=lambda i: (-i[1].size, i[0])):
        table.add_row(str(cluster), f"{row.size:,}", row.title or "")
    console.print(table)
