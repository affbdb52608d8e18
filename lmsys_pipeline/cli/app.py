"""The ``lmsys`` typer app, and the one place where a ``UserError`` becomes
``Error: <sentence>`` (and Ctrl-C the sentence that says how to resume)."""

from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from lmsys_pipeline.cli.console import error_console
from lmsys_pipeline.cli.failures import bound_whole_numbers
from lmsys_pipeline.errors import UserError

INTERRUPTED = "Interrupted: the work finished so far is kept; run the same command again to resume."


def fail(message: str) -> None:
    error_console.print(Text("Error:", style="red"), message)
    raise typer.Exit(code=1)


class Commands(TyperGroup):
    """Turns a ``UserError`` from any command into one line on stderr and exit code 1, and
    Ctrl-C (here, or inside a Dagster run: ``launch.materialize``) into one sentence and exit
    code 130. Every whole number a command takes must fit the database's integers
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


@app.callback()
def _group() -> None:
    """Analyse LLM chat logs: load, embed, cluster and summarise first user queries."""
