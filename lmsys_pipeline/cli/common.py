"""What every ``lmsys`` command shares: the typer app, consoles, common options, the database
choice, the one place where a ``UserError`` becomes ``Error: <sentence>`` (and Ctrl-C the
sentence that says how to resume), and running an asset through Dagster with the command's
resources and its progress display."""

import json
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from lmsys_pipeline.cli.failures import bound_whole_numbers, run_failure_message
from lmsys_pipeline.db.connection import DB_URL_ENV
from lmsys_pipeline.errors import UserError

INTERRUPTED = "Interrupted: the work finished so far is kept; run the same command again to resume."


class Commands(TyperGroup):
    """Turns a ``UserError`` from any command into one line on stderr and exit code 1, and
    Ctrl-C (here, or inside a Dagster run: ``materialize``) into one sentence and exit code
    130. Every whole number a command takes must fit the database's integers
    (``failures.py``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bound_whole_numbers(self)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as error:
            fail(str(error))
        except KeyboardInterrupt:
            error_console.print(INTERRUPTED, style="yellow")
            raise typer.Exit(code=130) from None


app = typer.Typer(
    help="Analyse LLM chat logs: load, embed, cluster and summarise first user queries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Commands,
)


# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(character: str) -> str:
    if character in "\n\t":
        return character
    if unicodedata.category(character) == "Cc" or character in _BIDI_CONTROLS:
        return character.encode("unicode_escape").decode("ascii")
    return character


def visible(text: str) -> str:
    """``text`` with control characters (ESC, BEL, bidi overrides ...) shown as escapes: text
    that came from a dataset never drives the terminal. Newlines and tabs stay."""
    if text.isprintable() and not _BIDI_CONTROLS.intersection(text):
        return text
    return "".join(_shown(c) for c in text)


class LiteralConsole(Console):
    """Prints every string literally: no Rich markup (``markup=False``: ``[/bold]`` or
    ``[link=...]`` in a query is text) and no control characters. Every string a command prints,
    table cells and titles included, goes through ``render_str``; styles come from ``style=``."""

    def render_str(self, text: str, **kwargs):
        return super().render_str(visible(text), **kwargs)


console = LiteralConsole(markup=False, highlight=False)
error_console = LiteralConsole(stderr=True, soft_wrap=True, markup=False, highlight=False)

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
EmbeddingModelOption = Annotated[
    str | None, typer.Option(help="Whose vectors to cluster (default all-MiniLM-L6-v2).")
]
SeedOption = Annotated[int | None, typer.Option(help="Random seed (runs are reproducible).")]
ConcurrencyOption = Annotated[int | None, typer.Option(help="Requests in flight (default 8).")]
RpmOption = Annotated[int | None, typer.Option(help="Requests per minute at most.")]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        help="OpenAI-compatible server URL (default: the provider's, or $OPENAI_BASE_URL)."
    ),
]
TimeoutOption = Annotated[float | None, typer.Option(help="Seconds per request (default 60).")]
MaxRetriesOption = Annotated[
    int | None,
    typer.Option(min=0, help="Retries of 429 / 5xx / timeouts, with backoff (default 5)."),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Dagster's run log in the terminal.")
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress display (the run log still records progress)."),
]


@app.callback()
def _group() -> None:
    """Analyse LLM chat logs: load, embed, cluster and summarise first user queries."""


def llm_resource(**given: Any):
    """The ``llm`` resource with the server options that were given (None: not given)."""
    from lmsys_pipeline.defs.resources import LLMResource

    return LLMResource(**{k: v for k, v in given.items() if v is not None})


def database(db_url: str | None):
    """The database of ``--db-url``, else $LMSYS_DB_URL, else the default SQLite file."""
    from lmsys_pipeline.db.connection import DatabaseManager

    return DatabaseManager(db_url)


def database_resource(db_url: str | None):
    """The same choice as a Dagster resource, handed to the run in this process (never put in
    run config, so a password in the URL does not reach the instance's storage). The database
    is opened here first: a setup fault is one sentence before any run starts."""
    from lmsys_pipeline.db.connection import to_db_url
    from lmsys_pipeline.defs.resources import DatabaseResource

    database(db_url).dispose()
    return DatabaseResource(url=to_db_url(db_url) if db_url else None)


def fail(message: str) -> None:
    error_console.print(Text("Error:", style="red"), message)
    raise typer.Exit(code=1)


def materialization_metadata(result: Any, asset_name: str) -> dict[str, Any]:
    from dagster import AssetKey

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == AssetKey(asset_name):
            return {key: value.value for key, value in materialization.metadata.items()}
    return {}


@contextmanager
def dagster_instance() -> Iterator[Any]:
    """$DAGSTER_HOME's instance (created with the project's settings if new), after closing
    the runs of killed ``lmsys`` processes so their pool slots are free."""
    import dagster as dg

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.orphaned_runs import close_orphaned_runs

    with dg.DagsterInstance.from_config(str(ensure_dagster_home())) as instance:
        for run_id in close_orphaned_runs(instance):
            error_console.print(f"Closed run {run_id}: its process was killed.")
        yield instance


def materialize(
    instance: Any,
    asset_name: str,
    config: dict[str, Any],
    *,
    verbose: bool,
    resources: dict[str, Any],
    partition_key: Any = None,
    quiet: bool = False,
    as_json: bool = False,
) -> Any:
    """Runs one asset (and its checks) in this process, recorded in ``instance``, with the
    project's resources and the command's ``resources`` in their place, showing its progress
    on stderr (``cli/progress.py``: nothing when ``quiet``, plain lines with ``as_json``).
    A run stopped by Ctrl-C ends failed in Dagster and raises ``KeyboardInterrupt`` here."""
    import dagster as dg

    from lmsys_pipeline.cli.progress import progress_display
    from lmsys_pipeline.definitions import defs
    from lmsys_pipeline.defs.resources import ProgressResource
    from lmsys_pipeline.orphaned_runs import process_tags

    with progress_display(error_console, quiet=quiet, plain=as_json) as display:
        shown = {}
        if display is not None:
            # The same object must reach the asset: a configured resource would be rebuilt
            # from its fields, without the display.
            shown["progress"] = dg.ResourceDefinition.hardcoded_resource(
                ProgressResource().with_display(display)
            )
        with_resources = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            resources={**(defs.resources or {}), **resources, **shown},
            executor=defs.executor,
        )
        result = with_resources.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset_name)],
            partition_key=partition_key,
            tags=process_tags(),
            run_config={
                "ops": {asset_name: {"config": config}},
                "loggers": {
                    "console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}
                },
            },
            raise_on_error=False,
        )
        if was_interrupted(result):
            raise KeyboardInterrupt
    return result


def was_interrupted(result: Any) -> bool:
    """Whether Ctrl-C stopped the run: Dagster turns SIGINT into a step failure."""
    return any(
        event.is_step_failure
        and event.event_specific_data.error is not None
        and event.event_specific_data.error.cls_name
        in ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
        for event in result.all_events
    )


def require_success(result: Any, context: str = "") -> None:
    if not result.success:
        fail(f"{context}{run_failure_message(result)}")


def titled_table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A table with ``(name, justify)`` columns whose long cells wrap."""
    table = Table(title=title)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    return table


def show_metadata_table(title: str, metadata: dict[str, Any], keys: tuple[str, ...]) -> None:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in keys:
        table.add_row(key, f"{metadata.get(key)}")
    console.print(table)


def print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str))
