import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.databases import BuiltOnce, shared_by_workers
from lmsys_pipeline_tests.support.postgres import postgres_server

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Two workers on two cores: an OpenMP thread that spins while it waits for work (libgomp's
# default; scikit-learn's t-SNE and torch use it) takes the core the other worker needs.
# Waiting passively changes no result (the same threads do the same sums): one t-SNE of
# 1,000 points took 2.4 CPU-s instead of 6.4 with the other core busy (benchmarks/omp_wait.py).
# Workers and the programs the tests start inherit it from the process that starts them.
os.environ["OMP_WAIT_POLICY"] = "passive"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks ``postgres`` each test that uses the session's PostgreSQL server: through its
    fixtures, or as the ``postgresql`` case of a test over both databases (whose fixture asks
    for the server only once it runs). Under ``--dist worksteal`` (``make test``) puts the
    ``slow`` tests first and those that start programs next (order kept within each), so the
    two workers do not end on one long test while the other idles: a worker that runs out
    takes the rest of the other's queue. (``--dist load`` hands out consecutive blocks that
    are never taken back, so there the order stays.)"""
    for item in items:
        callspec = getattr(item, "callspec", None)
        values = callspec.params.values() if callspec is not None else ()
        if "postgres_url" in getattr(item, "fixturenames", ()) or any(
            isinstance(value, str) and value == "postgresql" for value in values
        ):
            item.add_marker(pytest.mark.postgres)
    if config.getoption("dist", "no") == "worksteal":
        items.sort(
            key=lambda item: (
                item.get_closest_marker("slow") is None,
                item.get_closest_marker("subprocess") is None,
            )
        )


ISOLATED_SETTINGS = ("LMSYS_DB_URL", "LMSYS_VECTOR_CACHE", "DAGSTER_HOME", "LMSYS_SUMMARY_MODEL")


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory) -> Iterator[None]:
    """Data built once per session (before any test's own isolation below) writes its vector
    caches and anything else under a home of the session's, never the user's: each test's
    copy then starts without them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("session-home")))
        for name in ISOLATED_SETTINGS:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's ~/.lmsys-query-analysis or DAGSTER_HOME, or takes
    the user's default summary model (summary runs default to the offline summarizer)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ISOLATED_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[DatabaseManager]:
    db = DatabaseManager(tmp_path / "queries.db")
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[DatabaseManager]:
    """A clean schema on the session's PostgreSQL server."""
    db = DatabaseManager(postgres_url)
    yield db
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> DatabaseManager:
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session", autouse=True)
def _embeddings_computed_once() -> Iterator[None]:
    """Each distinct call of a sentence-transformers model's ``embed`` (the same model, engine
    and list of texts) is computed once per test process and answered from memory after:
    fixtures and tests rebuild the same real data many times over (the 150 sample queries
    alone, dozens of times), and encoding it was ~40% of the suite's CPU. The answer is the
    real model's, bit for bit what the same call computes (a CPU's fp32 is deterministic for
    the same batch); only a call with exactly the same texts is answered, so batches never
    mix. Programs a test starts compute their own."""
    from lmsys_pipeline.embedding.embedders import SentenceTransformerEmbedder

    compute = SentenceTransformerEmbedder.embed
    answers: dict[tuple, np.ndarray] = {}

    def embed(self: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
        key = (self.name, self.engine, self.batch_size, self.device, tuple(texts))
        if key not in answers:
            answers[key] = compute(self, texts)
        return answers[key].copy()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceTransformerEmbedder, "embed", embed)
        yield


@pytest.fixture(scope="session")
def minilm():
    """The real default model, loaded once per test process."""
    from lmsys_pipeline.embedding.embedders import load_embedder

    return load_embedder()


EMBEDDED_QUERIES = 600


@pytest.fixture(scope="session")
def embedded_db_file(tmp_path_factory, request) -> Path:
    """600 real sample queries, loaded and embedded through the pipeline, built once."""
    from lmsys_pipeline.embedding.runner import embed_pending

    def build(folder: Path) -> Path:
        path = folder / "queries.db"
        db = DatabaseManager(path)
        ingest_batches(db, open_source(None).batches(1000), limit=EMBEDDED_QUERIES)
        embed_pending(db, request.getfixturevalue("minilm"))
        db.dispose()
        return path

    return shared_by_workers(tmp_path_factory, "embedded", build)


@pytest.fixture
def embedded_db(embedded_db_file: Path, tmp_path: Path):
    path = tmp_path / "queries.db"
    shutil.copyfile(embedded_db_file, path)
    db = DatabaseManager(path)
    yield db
    db.dispose()


RESULTS_CLUSTERS = 6


def _summarized_kmeans(
    tmp_path_factory, embedded: Path, name: str, k: int, summaries: dict[str, dict]
) -> tuple[Path, str]:
    """A copy of the embedded queries with a KMeans run of ``k`` clusters and an offline
    summary run per alias of ``summaries`` (its options), built once for both workers."""
    from lmsys_pipeline.clustering.params import KMeansParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline_tests.support.pipeline_data import summarize

    def build(folder: Path) -> tuple[Path, str]:
        path = folder / "queries.db"
        shutil.copyfile(embedded, path)
        db = DatabaseManager(path)
        run = register_run(db, KMeansParams(n_clusters=k))
        materialize_run(db, run.run_id)
        for alias, options in summaries.items():
            summarize(db, run.run_id, alias, **options)
        db.dispose()
        return path, run.run_id

    return shared_by_workers(tmp_path_factory, name, build)


@pytest.fixture(scope="session")
def results_db_file(embedded_db_file: Path, tmp_path_factory) -> tuple[Path, str]:
    """The pipeline's own results, built once: the 600 embedded queries, a KMeans run
    (k = 6) and two offline summary runs on it (aliases ``kw`` and ``kw-short``)."""
    return _summarized_kmeans(
        tmp_path_factory,
        embedded_db_file,
        "results",
        RESULTS_CLUSTERS,
        {
            "kw": {"label_quality_queries": 5},
            "kw-short": {"max_queries": 5, "label_quality_queries": 5},
        },
    )


@pytest.fixture
def results(results_db_file: tuple[Path, str], tmp_path: Path):
    """A private copy of ``results_db_file``: (database, run id)."""
    source, run_id = results_db_file
    path = tmp_path / "results.db"
    shutil.copyfile(source, path)
    db = DatabaseManager(path)
    yield db, run_id
    db.dispose()


HIERARCHY_CLUSTERS = 60


@pytest.fixture(scope="session")
def hierarchy_db_file(embedded_db_file: Path, tmp_path_factory) -> tuple[Path, str]:
    """The 600 embedded queries in a KMeans run of 60 clusters with two offline summary runs
    (aliases ``kw`` and ``kw2``), built once: what hierarchy tests start from."""
    return _summarized_kmeans(
        tmp_path_factory,
        embedded_db_file,
        "hierarchy",
        HIERARCHY_CLUSTERS,
        {
            "kw": {"label_quality_queries": 0},
            "kw2": {"max_queries": 6, "label_quality_queries": 0},
        },
    )


@pytest.fixture
def sixty(hierarchy_db_file: tuple[Path, str], tmp_path: Path):
    """A private copy of ``hierarchy_db_file``: (database, run id)."""
    source, run_id = hierarchy_db_file
    path = tmp_path / "sixty.db"
    shutil.copyfile(source, path)
    db = DatabaseManager(path)
    yield db, run_id
    db.dispose()


def definitions_with(**resources: Any):
    """The project's definitions with ``resources`` in place of its own, the way the ``lmsys``
    CLI runs an asset (``cli/launch.py::materialize``): ``execute_in_process`` cannot override
    the resources bound in ``Definitions``."""
    import dagster as dg

    from lmsys_pipeline.definitions import defs

    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources={**(defs.resources or {}), **resources},
        executor=defs.executor,
    )


@pytest.fixture(scope="session")
def two_runs_file(tmp_path_factory, request) -> tuple[Path, str, str]:
    """Two KMeans runs over real data (``pipeline_data.build_two_runs``), built once."""
    from lmsys_pipeline_tests.support import pipeline_data

    def build(folder: Path) -> tuple[Path, str, str]:
        db = DatabaseManager(folder / "queries.db")
        run_a, run_b = pipeline_data.build_two_runs(db, request.getfixturevalue("minilm"), folder)
        db.dispose()
        return folder / "queries.db", run_a, run_b

    return shared_by_workers(tmp_path_factory, "two-runs", build)


@pytest.fixture
def two_runs(two_runs_file, tmp_path: Path):
    """A private copy: (database, run A, run B)."""
    source, run_a, run_b = two_runs_file
    shutil.copyfile(source, tmp_path / "queries.db")
    db = DatabaseManager(tmp_path / "queries.db")
    yield db, run_a, run_b
    db.dispose()


@pytest.fixture
def two_runs_any(request, tmp_path: Path, minilm, built_once: BuiltOnce):
    """The same two runs on SQLite (copied) or on PostgreSQL (made from a template)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("two_runs")
        return
    from lmsys_pipeline_tests.support import pipeline_data

    def build(db: DatabaseManager, folder: Path) -> tuple[str, str]:
        return pipeline_data.build_two_runs(db, minilm, folder)

    server = request.getfixturevalue("postgres_url")
    with built_once.copy("two_runs", build, tmp_path, server) as (db, (run_a, run_b)):
        yield db, run_a, run_b


@pytest.fixture(params=["sqlite", "postgresql"])
def results_any(request, built_once: BuiltOnce, minilm, tmp_path: Path):
    """A private copy of ``pipeline_data.build_results`` with its defaults (150 sample queries
    and two sharing a text, KMeans runs of 4 and 5 clusters, each with an offline summary run
    ``kw``) on either database, built once per session: (database, [run ids])."""
    from lmsys_pipeline_tests.support.pipeline_data import results_once

    with results_once(request, built_once, minilm, tmp_path) as (db, run_ids):
        yield db, run_ids


@pytest.fixture(scope="session")
def built_once(tmp_path_factory) -> BuiltOnce:
    """Data sets built once per session and database kind, copied for each test
    (``support/databases.py``): see ``edited`` in ``curation/test_edits.py``."""
    return BuiltOnce(tmp_path_factory)
