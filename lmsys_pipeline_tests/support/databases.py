"""Data built once per session and handed to each test as a private copy: a SQLite file is
copied (``shutil.copyfile``), a PostgreSQL database is made from a template database on the
session's server (``CREATE DATABASE ... TEMPLATE``). PostgreSQL refuses a template that has
an open connection, so a build disposes its engine before any copy is made.

Under pytest-xdist (``make test``) a SQLite file is built by one worker for all of them
(``shared_by_workers``): the others wait for it instead of building the same data again."""

import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from filelock import FileLock
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lmsys_pipeline.db.connection import DatabaseManager

T = TypeVar("T")


def on_server(server_url: str, database: str) -> str:
    """The URL of ``database`` on the server of ``server_url``."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _administer(server_url: str, statement: str) -> None:
    """Runs ``statement`` outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def shared_by_workers(folders: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """What ``build(folder)`` returns, built once per test session: under pytest-xdist the
    first worker to ask builds in a folder every worker of the session shares (its base
    temporary folder's parent, new for each session), under a lock; the others wait, then
    read what it returned (pickled beside the data). A build that failed is tried again by
    the next worker that asks. Without xdist, a folder of this process."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build(folders.mktemp(name))
    folder = folders.getbasetemp().parent / f"shared-{name}"
    built = folder / "built.pickle"
    with FileLock(f"{folder}.lock"):
        if built.exists():
            return pickle.loads(built.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
        folder.mkdir()
        value = build(folder)
        built.write_bytes(pickle.dumps(value))
        return value


def build_file(folder: Path, build: Callable[[DatabaseManager], T], **options) -> tuple[Path, T]:
    """A SQLite file ``folder/queries.db`` filled by ``build``: (its path, what build returned).
    ``options`` go to ``DatabaseManager``."""
    path = folder / "queries.db"
    db = DatabaseManager(path, **options)
    try:
        return path, build(db)
    finally:
        db.dispose()


def build_template(
    server_url: str, template: str, build: Callable[[DatabaseManager], T], **options
) -> T:
    """A new database ``template`` on the server filled by ``build``; returns what build
    returned. No connection to it stays open, so it can be copied at once."""
    _administer(server_url, f"CREATE DATABASE {template}")
    db = DatabaseManager(on_server(server_url, template), **options)
    try:
        return build(db)
    finally:
        db.dispose()


@contextmanager
def file_copy(source: Path, target: Path, **options) -> Iterator[DatabaseManager]:
    """A private copy of the SQLite file ``source`` at ``target``, opened."""
    shutil.copyfile(source, target)
    db = DatabaseManager(target, **options)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def template_copy_url(server_url: str, template: str) -> Iterator[str]:
    """The URL of a new database made from ``template``; dropped afterwards."""
    name = f"{template}_{uuid.uuid4().hex[:12]}"
    _administer(server_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield on_server(server_url, name)
    finally:
        _administer(server_url, f"DROP DATABASE {name} WITH (FORCE)")


@contextmanager
def template_copy(server_url: str, template: str, **options) -> Iterator[DatabaseManager]:
    """A private database made from ``template``, opened; dropped afterwards."""
    with template_copy_url(server_url, template) as url:
        db = DatabaseManager(url, **options)
        try:
            yield db
        finally:
            db.dispose()


class BuiltOnce:
    """Named data sets, each built at most once per session and database kind (a SQLite file,
    a PostgreSQL template database), handed out as private copies. ``build(db, folder)``
    fills ``db`` (``folder`` takes any files it writes) and returns what the tests need to
    know about the data (run ids)."""

    def __init__(self, folders: pytest.TempPathFactory):
        self._folders = folders
        self._built: dict[tuple[str, str | None], object] = {}

    def _once(self, key: tuple[str, str | None], make: Callable[[], T]) -> T:
        if key not in self._built:
            try:
                self._built[key] = make()
            except Exception as error:
                self._built[key] = error
                raise
        built = self._built[key]
        if isinstance(built, Exception):
            raise RuntimeError(f"Building the test data {key[0]!r} failed earlier.") from built
        return built

    @contextmanager
    def copy(
        self,
        name: str,
        build: Callable[[DatabaseManager, Path], T],
        tmp_path: Path,
        server_url: str | None = None,
    ) -> Iterator[tuple[DatabaseManager, T]]:
        """A private copy of data set ``name``: on SQLite without ``server_url``, else in a
        database made from a template on that PostgreSQL server. Yields (database, what
        ``build`` returned)."""
        if server_url is None:
            source, value = self._once((name, None), lambda: self._file(name, build))
            with file_copy(source, tmp_path / "queries.db") as db:
                yield db, value
            return
        template = f"built_{name}"
        value = self._once((name, server_url), lambda: self._template(server_url, template, build))
        with template_copy(server_url, template) as db:
            yield db, value

    def on_param(
        self,
        request: pytest.FixtureRequest,
        name: str,
        build: Callable[[DatabaseManager, Path], T],
        tmp_path: Path,
    ) -> AbstractContextManager[tuple[DatabaseManager, T]]:
        """``copy`` on the database kind of ``request.param``: ``sqlite`` or ``postgresql``
        (the session's server), as ``any_db`` takes them."""
        server = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
        return self.copy(name, build, tmp_path, server)

    def _file(self, name: str, build: Callable[[DatabaseManager, Path], T]) -> tuple[Path, T]:
        return shared_by_workers(
            self._folders, name, lambda folder: build_file(folder, lambda db: build(db, folder))
        )

    def _template(
        self, server_url: str, template: str, build: Callable[[DatabaseManager, Path], T]
    ) -> T:
        folder = self._folders.mktemp(template)
        return build_template(server_url, template, lambda db: build(db, folder))
