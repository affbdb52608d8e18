"""``lmsys summarize``: a summary run through Dagster, reported from its ledger row."""

from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console
from lmsys_pipeline.cli.options import (
    BaseUrlOption,
    ConcurrencyOption,
    DbUrlOption,
    JsonOption,
    MaxRetriesOption,
    QuietOption,
    RpmOption,
    TimeoutOption,
    VerboseOption,
    database,
    llm_resource,
)
from lmsys_pipeline.cli.tables import Table


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
            "local/keyphrase (offline; local/keywords: the older offline one)."
        ),
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Queries shown per cluster (default 20).")
    ] = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    contrast_neighbors: Annotated[
        int | None, typer.Option(help="Nearest clusters shown for contrast (default 3).")
    ] = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    carry_from: Annotated[
        str | None,
        typer.Option(
            help="Reuse this alias's titles from the previous run for the clusters that "
            "continue its clusters; only the others are sent to the model."
        ),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option(
            help="Start the alias afresh instead of resuming, and ask the model again: "
            "answers cached before are not used (the new ones replace them)."
        ),
    ] = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Name and describe every cluster of a run (asset cluster_summaries, partition run x
    alias). Prints the alias, its summary_run_id and the titles."""
    from lmsys_pipeline.cli.alias_run import run_alias_asset
    from lmsys_pipeline.summarizing.kind import SUMMARY_RUNS
    from lmsys_pipeline.summarizing.params import default_alias, default_model
    from lmsys_pipeline.summarizing.runner import summary_titles

    llm = llm_resource(
        concurrency=concurrency,
        rpm=rpm,
        timeout_s=timeout,
        max_retries=max_retries,
        base_url=base_url,
    )
    overrides = {
        "model": model,
        "max_queries": max_queries,
        "contrast_neighbors": contrast_neighbors,
        "carry_from": carry_from,
    }
    alias = alias or default_alias(model or default_model())
    entry = run_alias_asset(
        SUMMARY_RUNS,
        run_id,
        alias,
        overrides,
        llm=llm,
        restart=restart,
        db_url=db_url,
        verbose=verbose,
        quiet=quiet,
        as_json=as_json,
    )
    if entry is None:
        return
    for cluster, reason in (entry.failures or {}).items():
        console.print(f"  cluster {cluster} failed: {reason}")
    titles = summary_titles(database(db_url), entry.summary_run_id)
    table = Table(title=f"Clusters of {run_id} by size — {alias}")
    for name, justify in [("cluster", "right"), ("queries", "right"), ("title", "left")]:
        table.add_column(name, justify=justify)
    for cluster, row in sorted(titles.items(), key=lambda i: (-i[1].size, i[0])):
        table.add_row(str(cluster), f"{row.size:,}", row.title or "")
    console.print(table)
