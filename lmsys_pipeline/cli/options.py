"""The options many commands share, and what the server and database options become: the
database of ``--db-url`` and the resources a Dagster run gets for them."""

from typing import Annotated, Any

import typer

from lmsys_pipeline.db.connection import DB_URL_ENV

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
