from collections.abc import Iterator

import pytest

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline_tests.openai_server import ServerState, openai_server

CLUSTERS = 8


@pytest.fixture
def clustered(embedded_db: DatabaseManager) -> tuple[DatabaseManager, str]:
    """600 embedded sample queries in a KMeans run with 8 clusters, made by the pipeline."""
    run = register_run(embedded_db, KMeansParams(n_clusters=CLUSTERS))
    materialize_run(embedded_db, run.run_id)
    return embedded_db, run.run_id


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerState, str]]:
    """A loopback OpenAI-compatible server; OPENAI_API_KEY is a secret the tests look for."""
    state = ServerState()
    with openai_server(state) as url:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
        yield state, url


SECRET_KEY = "sk-test-SECRET-4f9c2b7e1d"
