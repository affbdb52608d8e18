"""What every ``lmsys`` command shares: the typer app, consoles, common options, the database
choice and running an asset through Dagster."""

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
error_console = Console(stderr=True, soft_wrap=True)

DbUrlOption = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        help=f"SQLAlchemy URL or SQLite path (default: ${DB_URL_ENV}, else "
        "~/.lmsys-query-analysis/queries.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DescriptionOption = Annotated[str | None, typer.Option(help="Why this run exists.")]
RunLimitOption = Annotated[int | None, typer.Option(help="Only the first N embedded queries.")]
EmbeddingModelOption = Annotated[str, typer.Option(help="Whose vectors to cluster.")]
SeedOption = Annotated[int, typer.Option(help="Random seed (runs are reproducible).")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Dagster's run log in the terminal.")
]


@app.callback()
def _group() -> None:
    """Analyse LLM chat logs: load, embed, cluster and summarise first user queries."""


def use_database(db_url: str | None) -> None:
    """Points this process and the Dagster run at one database, via the environment only, so
    a password in the URL never lands in run config or the instance's storage."""
    if db_url:
        from lmsys_pipeline.db.connection import to_db_url

        os.environ[DB_URL_ENV] = to_db_url(db_url)


def fail(message: str) -> None:
    error_console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code=1)


def materialization_metadata(result: Any, asset_name: str) -> dict[str, Any]:
    from dagster import AssetKey

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == AssetKey(asset_name):
            return {key: value.value for key, value in materialization.metadata.items()}
    return {}


def run_failure_message(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            failure_description = getattr(event.event_specific_data, "user_failure_data", None)
            if failure_description is not None and failure_description.description:
                return failure_description.description
            if error is not None:
                return error.message.strip().splitlines()[0]
    return "the run failed; see the Dagster UI for its logs."


def materialize(
    asset_name: str,
    config: dict[str, Any],
    *,
    verbose: bool,
    partition: tuple[str, str] | None = None,
    partition_key: Any = None,
    new_partitions: dict[str, str] | None = None,
) -> Any:
    """Runs one asset (and its checks) in this process, recorded in $DAGSTER_HOME's instance.
    ``partition`` is (dynamic partition set, key) for a single dynamic dimension; otherwise
    ``partition_key`` with ``new_partitions`` (set -> key) added to their sets first."""
    import dagster as dg

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.definitions import defs
    from lmsys_pipeline.orphaned_runs import close_orphaned_runs, process_tags

    ensure_dagster_home()
    log_level = "DEBUG" if verbose else "CRITICAL"
    with dg.DagsterInstance.get() as instance:
        for run_id in close_orphaned_runs(instance):
            error_console.print(f"Closed run {run_id}: its process was killed.")
        if partition is not None:
            new_partitions, partition_key = {partition[0]: partition[1]}, partition[1]
        for partitions_name, key in (new_partitions or {}).items():
            if not instance.has_dynamic_partition(partitions_name, key):
                instance.add_dynamic_partitions(partitions_name, [key])
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset_name)],
            partition_key=partition_key,
            tags=process_tags(),
            run_config={
                "ops": {asset_name: {"config": config}},
                "loggers": {"console": {"config": {"log_level": log_level}}},
            },
            raise_on_error=False,
        )


def run_and_show(
    asset_name: str, config: dict[str, Any], *, as_json: bool, verbose: bool, keys: tuple[str, ...]
) -> dict[str, Any] | None:
    """Materializes an unpartitioned asset and prints its metadata as JSON or a table.
    Returns the metadata for further printing, or None when it went out as JSON."""
    result = materialize(asset_name, config, verbose=verbose)
    if not result.success:
        fail(run_failure_message(result))
    metadata = materialization_metadata(result, asset_name)
    if as_json:
        print(json.dumps({"dagster_run_id": result.run_id, **metadata}, default=str))
        return None
    table = Table(title=f"{asset_name} — Dagster run {result.run_id}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in keys:
        table.add_row(key, f"{metadata.get(key)}")
    console.print(table)
    return metadata
