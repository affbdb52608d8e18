"""The explorer's data, built once per session on SQLite (each test gets a copy) and once on
PostgreSQL (each test gets a database made from it as a template), and an ASGI client."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.explorer.app import create_app
from lmsys_pipeline.explorer.settings import ExplorerSettings
from lmsys_pipeline.explorer.warm_search import WarmSearch
from lmsys_pipeline_tests.explorer.built import Built, build

TEMPLATE = "explorer_template"


@pytest.fixture(scope="session")
def explorer_file(tmp_path_factory, minilm) -> tuple[Path, Built]:
    folder = tmp_path_factory.mktemp("explorer")
    db = DatabaseManager(folder / "queries.db", vector_cache="off")
    built = build(db, minilm, folder)
    db.dispose()
    return folder / "queries.db", built


def _admin(url: str):
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def explorer_template(postgres_url: str, tmp_path_factory, minilm) -> Built:
    """The same data in its own database on the session's server, used as a template."""
    admin = _admin(postgres_url)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {TEMPLATE}"))
    admin.dispose()
    url = make_url(postgres_url).set(database=TEMPLATE).render_as_string(hide_password=False)
    db = DatabaseManager(url, vector_cache="off")
    built = build(db, minilm, tmp_path_factory.mktemp("explorer-pg"))
    db.dispose()
    return built


@pytest.fixture(params=["sqlite", "postgresql"])
def explorer_db(request, tmp_path: Path) -> Iterator[tuple[str, Built]]:
    """(database URL, what it holds): a private copy on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        source, built = request.getfixturevalue("explorer_file")
        shutil.copyfile(source, tmp_path / "queries.db")
        yield str(tmp_path / "queries.db"), built
        return
    built = request.getfixturevalue("explorer_template")
    server = request.getfixturevalue("postgres_url")
    name = f"explorer_{uuid.uuid4().hex[:12]}"
    admin = _admin(server)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield make_url(server).set(database=name).render_as_string(hide_password=False), built
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def sqlite_explorer(explorer_file, tmp_path: Path) -> tuple[str, Built]:
    """A private SQLite copy only (for tests whose subject is not the database)."""
    source, built = explorer_file
    shutil.copyfile(source, tmp_path / "queries.db")
    return str(tmp_path / "queries.db"), built


def client_for(url: str, minilm, **settings) -> TestClient:
    app = create_app(ExplorerSettings(db_url=url, editor="tester", **settings))
    app.state.explorer.warm = WarmSearch({minilm.name: minilm})
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(explorer_db, minilm) -> Iterator[tuple[TestClient, Built]]:
    url, built = explorer_db
    with client_for(url, minilm) as test_client:
        yield test_client, built
