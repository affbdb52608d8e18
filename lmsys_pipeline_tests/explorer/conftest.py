"""The explorer's data, built once per session on SQLite (each test gets a copy) and once on
PostgreSQL (each test gets a database made from it as a template), and an ASGI client."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lmsys_pipeline.explorer.app import create_app
from lmsys_pipeline.explorer.settings import ExplorerSettings
from lmsys_pipeline.explorer.warm_search import WarmSearch
from lmsys_pipeline_tests.explorer.built import Built, build
from lmsys_pipeline_tests.support.databases import (
    build_file,
    build_template,
    shared_by_workers,
    template_copy_url,
)

TEMPLATE = "explorer_template"


@pytest.fixture(scope="session")
def explorer_file(tmp_path_factory, request) -> tuple[Path, Built]:
    def build_in(folder: Path) -> tuple[Path, Built]:
        minilm = request.getfixturevalue("minilm")
        return build_file(folder, lambda db: build(db, minilm, folder), vector_cache="off")

    return shared_by_workers(tmp_path_factory, "explorer", build_in)


@pytest.fixture(scope="session")
def explorer_template(postgres_url: str, tmp_path_factory, minilm) -> Built:
    """The same data in its own database on the session's server, used as a template."""
    folder = tmp_path_factory.mktemp("explorer-pg")
    return build_template(
        postgres_url, TEMPLATE, lambda db: build(db, minilm, folder), vector_cache="off"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def explorer_db(request, tmp_path: Path) -> Iterator[tuple[str, Built]]:
    """(database URL, what it holds): a private copy on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        source, built = request.getfixturevalue("explorer_file")
        shutil.copyfile(source, tmp_path / "queries.db")
        yield str(tmp_path / "queries.db"), built
        return
    built = request.getfixturevalue("explorer_template")
    with template_copy_url(request.getfixturevalue("postgres_url"), TEMPLATE) as url:
        yield url, built


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
