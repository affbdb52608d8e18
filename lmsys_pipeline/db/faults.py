"""Setup faults of a database, each as one sentence naming the cause and the fix.

``DatabaseManager`` (``connection.py``) is the one place that opens a database: it builds its
engine with ``open_engine`` (unknown dialects and missing drivers), translates the driver's
errors with a ``handle_error`` listener (an unreachable server, a read-only file, a file that is
not a database: wherever they happen, inside a Dagster run too), and refuses a database whose
own tables merely share a name with the pipeline's (``foreign_tables``) before writing to it.
Messages name the database by its URL with the password masked.
"""

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from lmsys_pipeline.errors import UserError

# The narrower of the two databases' integer columns (PostgreSQL INTEGER; SQLite holds 64 bits).
DB_INT_MIN = -(2**31)
DB_INT_MAX = 2**31 - 1
URL_SETTING = "--db-url or $LMSYS_DB_URL"
URL_FORMS = (
    "write postgresql+psycopg://user:password@host:5432/database for PostgreSQL or a file path "
    f"for SQLite (in {URL_SETTING})"
)


UNREACHABLE = ("refused", "resolve", "translate host", "timeout", "timed out", "no such file")


class DatabaseSetupError(UserError):
    """The database cannot be used as configured, in one sentence."""


def database_integer(value: int, label: str) -> int:
    """``value`` if the database can hold it, else one sentence naming ``label``."""
    if not DB_INT_MIN <= value <= DB_INT_MAX:
        raise DatabaseSetupError(
            f"{label} {value} is out of range: give a whole number from {DB_INT_MIN} to "
            f"{DB_INT_MAX}."
        )
    return value


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise DatabaseSetupError(
            f"The database URL is not a URL SQLAlchemy can read: {URL_FORMS}."
        ) from None


def open_engine(url: str, **options) -> Engine:
    """``create_engine`` with an unknown dialect or a missing driver in one sentence, and the
    driver's setup faults translated on every connection (``translate``)."""
    parsed = parse_url(url)
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError:
        raise DatabaseSetupError(
            f"The database URL {shown} names an unknown database or driver "
            f"({parsed.drivername}): {URL_FORMS}."
        ) from None
    except ImportError as error:
        raise DatabaseSetupError(
            f"The database URL {shown} needs the Python module {error.name or error}, which is "
            f"not installed: install it, or {URL_FORMS}."
        ) from None
    event.listen(engine, "handle_error", lambda context: translate(context, parsed))
    return engine


def translate(context: ExceptionContext, url: URL) -> UserError | None:
    """The setup fault behind a driver error as a ``DatabaseSetupError`` (SQLAlchemy raises
    what this returns instead), or None to keep the original error."""
    if context.is_pre_ping:
        return None
    error = context.original_exception
    if url.get_backend_name() == "sqlite":
        return sqlite_fault(str(error), url.database or "")
    if context.connection is None and context.sqlalchemy_exception is not None:
        return connection_fault(str(error), url)
    return None


def sqlite_fault(message: str, database: str) -> UserError | None:
    path = Path(database)
    if "not a database" in message:
        return DatabaseSetupError(
            f"{path} is not a SQLite database: point {URL_SETTING} at a database file or a new "
            "path (data files to read go to lmsys load --source)."
        )
    if "readonly database" in message:
        return read_only(path)
    if "unable to open database file" not in message or database in ("", ":memory:"):
        return None
    if path.is_dir():
        return DatabaseSetupError(
            f"{path} is a folder: point {URL_SETTING} at a database file (a new path creates one)."
        )
    if not path.exists():
        return DatabaseSetupError(
            f"Cannot create the database {path}: its folder cannot be written; point "
            f"{URL_SETTING} at a path in a writable folder."
        )
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return read_only(path)
    return DatabaseSetupError(
        f"SQLite cannot open {path} (unable to open database file): check that the file and "
        "its folder can be read and written."
    )


def read_only(path: Path) -> UserError:
    return DatabaseSetupError(
        f"The database {path} is read-only (SQLite writes the file and, beside it, its -wal "
        f"and -shm files): make the file and its folder writable, or copy the file somewhere "
        f"writable and point {URL_SETTING} at the copy."
    )


def connection_fault(message: str, url: URL) -> UserError:
    """A server that cannot be reached or refuses the login, named by host and port."""
    line = message.strip().splitlines()[0] if message.strip() else "no reason given"
    reason = line.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    if url.password:
        reason = reason.replace(str(url.password), "***")
    place = f"{url.host}:{url.port or 5432}" if url.host else "the local socket"
    if "does not exist" in reason and "database" in reason:
        fix = f"create the database, or correct its name in {URL_SETTING}"
    elif "role" in reason or "authentication" in reason or "password" in reason:
        fix = f"correct the user and password in {URL_SETTING}"
    elif any(word in reason.lower() for word in UNREACHABLE):
        fix = f"start the server, or correct the host and port in {URL_SETTING}"
    else:
        fix = f"check that the server accepts connections, and the URL in {URL_SETTING}"
    return DatabaseSetupError(
        f"Cannot connect to the database at {place} ({reason}): {fix} "
        f"({url.render_as_string(hide_password=True)})."
    )


def foreign_tables(connection: Connection, tables: dict[str, set[str]]) -> str | None:
    """The first of ``tables`` (name: the columns the pipeline needs) that the database holds
    without those columns, described in a few words; None when every one present fits. One
    reflection query on PostgreSQL, a PRAGMA per table on SQLite."""
    found = inspect(connection).get_multi_columns(filter_names=list(tables))
    for (_schema, name), columns in sorted(found.items(), key=lambda item: item[0][1]):
        missing = sorted(tables[name] - {column["name"] for column in columns})
        if missing:
            return f"a table {name} without the columns {', '.join(missing)}"
    return None


def refuse_foreign(url: URL, found: str) -> UserError:
    return DatabaseSetupError(
        f"{url.render_as_string(hide_password=True)} is another application's database (it "
        f"has {found}), and nothing was written to it: point {URL_SETTING} at this pipeline's "
        "database or a new file."
    )
