from collections.abc import Iterator
from pathlib import Path

import pytest

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline_tests.support.databases import file_copy, shared_by_workers
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import clustered_copy

CLUSTERS = 8


@pytest.fixture(scope="session")
def clustered_file(embedded_db_file: Path, tmp_path_factory) -> tuple[Path, str]:
    """``clustered``'s data, built once: (the file, the run id)."""
    return shared_by_workers(
        tmp_path_factory,
        "clustered",
        lambda folder: clustered_copy(embedded_db_file, folder, CLUSTERS),
    )


@pytest.fixture
def clustered(
    clustered_file: tuple[Path, str], tmp_path: Path
) -> Iterator[tuple[DatabaseManager, str]]:
    """600 embedded sample queries in a KMeans run with 8 clusters, made by the pipeline (a
    private copy)."""
    source, run_id = clustered_file
    with file_copy(source, tmp_path / "queries.db") as db:
        yield db, run_id


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    """A loopback OpenAI-compatible server; OPENAI_API_KEY is a secret the tests look for."""
    state = ServerState()
    with openai_server(state) as url:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
        yield state, url


SECRET_KEY = "sk-test-SECRET-4f9c2b7e1d"
