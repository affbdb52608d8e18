"""The ``lmsys`` command. Commands that compute run through Dagster, so each run lands in the
instance's history (the UI shows it); read commands query the database directly."""

import json
import os
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lmsys_pipeline.db.connection import DB_URL_ENV

app = typer.Typer(
    help="Analyse LLM chat logs: load, embed, cluster and summarise first user queries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
error_console = Console(stderr=True)

DbUrlOption = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        help=f"SQLAlchemy URL or SQLite path (default: ${DB_URL_ENV}, else "
        "~/.lmsys-query-analysis/queries.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Dagster's run log in the terminal.")
]


@app.callback()
def _group() -> None:
    """Analyse LLM chat logs: load, embed, cluster and summarise first user queries."""


def _use_database(db_url: str | None) -> None:
    """Points this process and the Dagster run at one database, via the environment only, so
    a password in the URL never lands in run config or the instance's storage."""
    if db_url:
        from lmsys_pipeline.db.connection import to_db_url

        os.environ[DB_URL_ENV] = to_db_url(db_url)


def _fail(message: str) -> None:
    error_console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code=1)


def _materialization_metadata(result: Any, asset_name: str) -> dict[str, Any]:
    from dagster import AssetKey

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == AssetKey(asset_name):
            return {key: value.value for key, value in materialization.metadata.items()}
    return {}


def _run_failure_message(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            failure_description = getattr(event.event_specific_data, "user_failure_data", None)
            if failure_description is not None and failure_description.description:
                return failure_description.description
            if error is not None:
                return error.message.strip().splitlines()[0]
    return "the run failed; see the Dagster UI for its logs."


def _materialize(asset_name: str, config: dict[str, Any], *, verbose: bool) -> Any:
    """Runs one asset (and its checks) in this process, recorded in $DAGSTER_HOME's instance."""
    import dagster as dg

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.definitions import defs

    ensure_dagster_home()
    log_level = "DEBUG" if verbose else "CRITICAL"
    with dg.DagsterInstance.get() as instance:
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset_name)],
            run_config={
                "ops": {asset_name: {"config": config}},
                "loggers": {"console": {"config": {"log_level": log_level}}},
            },
            raise_on_error=False,
        )


@app.command()
def load(
    source: Annotated[
        str | None,
        typer.Option(help="Hub dataset id, local parquet/jsonl/json file, folder or glob "
                     "(default: the bundled sample)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most N rows.")] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Load conversations' first user queries into the database (asset lmsys_queries)."""
    _use_database(db_url)
    result = _materialize("lmsys_queries", {"source": source, "limit": limit}, verbose=verbose)
    if not result.success:
        _fail(_run_failure_message(result))
    metadata = _materialization_metadata(result, "lmsys_queries")
    if as_json:
        print(json.dumps({"dagster_run_id": result.run_id, **metadata}, default=str))
        return
    table = Table(title=f"lmsys_queries — Dagster run {result.run_id}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in ("source", "rows_read", "inserted", "skipped", "duplicate_text_share",
                "total_queries", "seconds", "rows_per_second"):
        table.add_row(key, f"{metadata.get(key)}")
    console.print(table)
    if metadata.get("skipped"):
        console.print(metadata.get("skipped_by_reason", ""))
    console.print(metadata.get("top_languages", ""))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
