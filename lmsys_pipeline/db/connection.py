"""``DatabaseManager``: one engine per database URL, tables created on first use.

Accepts a file path (``~`` expanded, parent folders created) or any SQLAlchemy URL. The default
comes from ``LMSYS_DB_URL``, else ``~/.lmsys-query-analysis/queries.db``. On SQLite the file is
switched to WAL once and every connection gets a busy timeout and foreign keys, so a reader
never blocks the writer and a second writer waits instead of failing at once.

It is the one place that opens a database, so setup faults (an unknown driver, an unreachable
server, a read-only or foreign file) become one sentence for every command (``faults.py``).

Each database also has a folder for its vector caches (``embedding/cache.py``): next to a
SQLite file (``queries.db.vectors/``), else under ``~/.lmsys-query-analysis/vector-cache/``
in a folder named by a hash of the URL without its password (a PostgreSQL server has no
folder of its own to put them in). ``LMSYS_VECTOR_CACHE`` or the ``vector_cache`` argument
names another root, or ``off``.
"""

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from lmsys_pipeline.db import (  # noqa: F401 (every table)
    assigned,
    curation,
    hierarchy,
    lineage,
    models,
    summaries,
    vectors,
)
from lmsys_pipeline.db.faults import (
    URL_SETTING,
    DatabaseSetupError,
    foreign_tables,
    open_engine,
    parse_url,
    refuse_foreign,
)

DEFAULT_DB_PATH = "~/.lmsys-query-analysis/queries.db"
DB_URL_ENV = "LMSYS_DB_URL"
VECTOR_CACHE_ENV = "LMSYS_VECTOR_CACHE"
DEFAULT_VECTOR_CACHE_ROOT = "~/.lmsys-query-analysis/vector-cache"
CACHE_OFF = "off"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The seed's tables, whose columns are fixed (the reference tool's databases share them): a
# table of one of these names without these columns belongs to another application.
SEED_COLUMNS = {
    table.__tablename__: {column.name for column in table.__table__.columns}
    for table in (models.Query, models.ClusteringRun, models.QueryCluster, models.ClusterSummary)
}


def default_db_url() -> str:
    return os.environ.get(DB_URL_ENV) or to_db_url(DEFAULT_DB_PATH)


def to_db_url(path_or_url: str | os.PathLike[str]) -> str:
    """Turns a file path into a ``sqlite:///`` URL; URLs pass through (``~`` expanded)."""
    text = os.fspath(path_or_url)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith("sqlite:///") and text[len("sqlite:///") :].startswith("~"):
        return f"sqlite:///{Path(text[len('sqlite:///') :]).expanduser()}"
    return text


def redact_url(url: str) -> str:
    """The URL with any password hidden, safe for logs and metadata."""
    return make_url(url).render_as_string(hide_password=True)


def vector_cache_dir(url: str, setting: str | None = None) -> Path | None:
    """Where the vector caches of the database at ``url`` live (None: no cache). ``setting``
    (else ``$LMSYS_VECTOR_CACHE``): ``off``, or a root folder shared by several databases;
    empty: next to a SQLite file, else under ~/.lmsys-query-analysis/vector-cache."""
    setting = (setting if setting is not None else os.environ.get(VECTOR_CACHE_ENV, "")).strip()
    if setting.lower() == CACHE_OFF:
        return None
    parsed = make_url(url)
    database = parsed.database or ""
    is_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if is_file and not setting:
        return Path(database + ".vectors")
    if parsed.get_backend_name() == "sqlite" and not is_file:
        return None  # an in-memory database lives and dies with its process
    key = hashlib.sha256(parsed.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(setting or DEFAULT_VECTOR_CACHE_ROOT).expanduser() / f"{parsed.drivername}-{key}"


def _configure_sqlite(dbapi_connection, _record) -> None:
    """Per-connection settings; none writes the file (WAL is set once, in ``create_tables``,
    after the file was found to be this pipeline's)."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class DatabaseManager:
    """Owns the engine for one database and hands out SQLModel sessions."""

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        echo: bool = False,
        vector_cache: str | None = None,
    ):
        self.url = to_db_url(db_path) if db_path is not None else default_db_url()
        parsed = parse_url(self.url)
        self.vector_cache_dir = vector_cache_dir(self.url, vector_cache)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseSetupError(
                    f"Cannot create the folder {folder} for the database ({error.strerror}): "
                    f"point {URL_SETTING} at a path in a writable folder."
                ) from None
        self.engine: Engine = open_engine(self.url, echo=echo, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite)
        self.create_tables()

    def create_tables(self) -> None:
        """Refuses a database whose seed tables are another application's, before anything is
        written to it; then switches SQLite to WAL and creates the missing tables."""
        with self.engine.connect() as connection:
            found = foreign_tables(connection, SEED_COLUMNS)
            if found:
                raise refuse_foreign(make_url(self.url), found)
            if self.is_sqlite:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        SQLModel.metadata.create_all(self.engine)

    def get_session(self) -> Session:
        return Session(self.engine)

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"DatabaseManager({self.safe_url!r})"


@contextmanager
def connected(source: DatabaseManager | Connection) -> Iterator[Connection]:
    """``source`` itself when it is a connection (inside its transaction, which sees what it
    wrote), else a new connection to the database."""
    if isinstance(source, Connection):
        yield source
        return
    with source.engine.connect() as connection:
        yield connection
