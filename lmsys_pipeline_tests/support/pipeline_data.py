"""Small results built through the pipeline's own functions, on any database."""

import shutil
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.hierarchy.prepare import prepare_hierarchy
from lmsys_pipeline.hierarchy.runner import HierarchyReport, build_hierarchy
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.labeling.lease import HIERARCHY, SUMMARY, alias_lease
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.progress import no_progress
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.runner import SummaryReport, summarize_run
from lmsys_pipeline_tests.support.databases import BuiltOnce
from lmsys_pipeline_tests.support.rows import message, row, write_parquet


@cache
def loaded_embedder(name: str):
    """The model ``name``, loaded once per process as the pipeline's ``embedder`` resource keeps
    the models it loaded (``defs/resources.py``): a test making several runs, each scoring its
    labels with the run's model, does not load it for each."""
    from lmsys_pipeline.embedding.embedders import load_embedder

    return load_embedder(name)


def _split_fields(fields: dict) -> tuple[ThroughputSettings, dict]:
    """The server's settings (as the ``llm`` resource gives them) and the run's overrides."""
    server = {k: v for k, v in fields.items() if k in ThroughputSettings.model_fields}
    overrides = {k: v for k, v in fields.items() if k not in server}
    return ThroughputSettings(**server), overrides


def summarize(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    *,
    api_key: str | None = None,
    restart: bool = False,
    **fields,
) -> SummaryReport:
    """A summary run made the way the pipeline makes one: ``prepare_summary`` (validation,
    endpoint, ledger entry), then ``summarize_run`` (the run's model from
    ``loaded_embedder``). ``fields`` are SummaryParams fields: the server's (base_url,
    concurrency, rpm, timeout_s, max_retries) go to its ``ThroughputSettings``, as the ``llm``
    resource would give them, the rest are overrides."""
    server, overrides = _split_fields(fields)
    with alias_lease(db, SUMMARY, run_id, alias):
        prepared = prepare_summary(
            db,
            run_id,
            alias,
            overrides,
            server,
            api_key=api_key,
            restart=restart,
        )
        return summarize_run(db, prepared, load_embedder=loaded_embedder)


def build_tree(
    db: DatabaseManager,
    run_id: str,
    alias: str,
    *,
    api_key: str | None = None,
    restart: bool = False,
    embedder=None,
    log=lambda message: None,
    on_progress=no_progress,
    **fields,
) -> HierarchyReport:
    """A hierarchy run made the way the pipeline makes one: ``prepare_hierarchy`` then
    ``build_hierarchy``; ``fields`` split into the server's settings and overrides as in
    ``summarize``. ``embedder``: the model to embed titles with (default: the run's, from
    ``loaded_embedder``)."""
    server, overrides = _split_fields(fields)
    with alias_lease(db, HIERARCHY, run_id, alias):
        prepared = prepare_hierarchy(
            db,
            run_id,
            alias,
            overrides,
            server,
            api_key=api_key,
            restart=restart,
        )
        load = loaded_embedder if embedder is None else (lambda name: embedder)
        return build_hierarchy(db, prepared, load_embedder=load, log=log, on_progress=on_progress)


SHARED_TEXT = "How do I permanently delete my account and all of my data?"


def build_embedded(db: DatabaseManager, embedder, tmp_path: Path, *, queries: int = 150) -> None:
    """``queries`` sample queries plus two conversations sharing one text, embedded."""
    ingest_batches(db, open_source(None).batches(1000), limit=queries)
    extra = write_parquet(
        tmp_path / "shared.parquet",
        [
            row("shared-1", [message("user", SHARED_TEXT)]),
            row("shared-2", [message("user", SHARED_TEXT)]),
        ],
    )
    ingest_batches(db, open_source(str(extra)).batches(10))
    embed_pending(db, embedder)


def build_results(
    db: DatabaseManager, embedder, tmp_path: Path, *, queries: int = 150, k: int = 4
) -> list[str]:
    """``queries`` sample queries plus two conversations sharing one text, embedded, in two
    KMeans runs (k and k + 1), each with an offline summary run. Returns the run ids."""
    build_embedded(db, embedder, tmp_path, queries=queries)
    run_ids = []
    for clusters in (k, k + 1):
        run = register_run(db, KMeansParams(n_clusters=clusters))
        materialize_run(db, run.run_id)
        summarize(db, run.run_id, "kw", label_quality_queries=0)
        run_ids.append(run.run_id)
    return run_ids


def results_once(
    request, built_once: BuiltOnce, embedder, tmp_path: Path, *, queries: int = 150, k: int = 4
) -> AbstractContextManager[tuple[DatabaseManager, list[str]]]:
    """A private copy of ``build_results(queries=queries, k=k)``, built once per session and
    database kind (``request.param``: ``sqlite`` or ``postgresql``): (database, run ids)."""

    def build(db: DatabaseManager, folder: Path) -> list[str]:
        return build_results(db, embedder, folder, queries=queries, k=k)

    return built_once.on_param(request, f"results_{queries}_k{k}", build, tmp_path)


def clustered_copy(embedded_db_file: Path, tmp_path: Path, k: int) -> tuple[Path, str]:
    """A copy of ``embedded_db_file`` in ``tmp_path`` with a KMeans run of ``k`` clusters:
    (the copy's path, the run id)."""
    path = tmp_path / "q.db"
    shutil.copyfile(embedded_db_file, path)
    db = DatabaseManager(path)
    run = register_run(db, KMeansParams(n_clusters=k))
    materialize_run(db, run.run_id)
    db.dispose()
    return path, run.run_id


TESTS = Path(__file__).resolve().parents[1]
SHARED_DATA = TESTS.parents[1] / "shared" / "data"


PLANTED_ALARMS = TESTS / "data" / "hwu64_alarm.jsonl"


def ingest_hwu64(
    db: DatabaseManager,
    tmp_path: Path,
    *,
    scenario: str,
    count: int,
    source: Path = SHARED_DATA / "hwu64" / "hwu64.jsonl",
) -> int:
    """Ingests the first ``count`` HWU64 utterances of ``scenario`` (a topic the bundled sample
    lacks) from ``source`` as LMSYS-layout conversations; returns how many were inserted."""
    import json

    with open(source, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    chosen = [r for r in records if r["scenario"] == scenario][:count]
    conversations = write_parquet(
        tmp_path / f"hwu64-{scenario}.parquet",
        [
            row(f"hwu64-{scenario}-{i:04d}", [message("user", r["text"])])
            for i, r in enumerate(chosen)
        ],
    )
    return ingest_batches(db, open_source(str(conversations)).batches(1000)).inserted


FIRST, MORE, PLANTED, K = 1000, 200, 150, 12
PLANTED_PREFIX = "hwu64-alarm-"


def build_two_runs(db: DatabaseManager, embedder, tmp_path: Path) -> tuple[str, str]:
    """Run A over the first ``FIRST`` sample queries; run B (same k) over 20% more plus
    ``PLANTED`` HWU64 alarm utterances (vendored in ``data/``), a topic the sample lacks.
    Returns both run ids."""
    ingest_batches(db, open_source(None).batches(1000), limit=FIRST)
    embed_pending(db, embedder)
    run_a = register_run(db, KMeansParams(n_clusters=K), description="before")
    materialize_run(db, run_a.run_id)
    # the next 20% of the sample (the first FIRST rows read are already stored)
    ingest_batches(db, open_source(None).batches(1000), limit=FIRST + MORE)
    planted = ingest_hwu64(db, tmp_path, scenario="alarm", count=PLANTED, source=PLANTED_ALARMS)
    assert planted == PLANTED
    embed_pending(db, embedder)
    run_b = register_run(db, KMeansParams(n_clusters=K), description="after")
    materialize_run(db, run_b.run_id)
    return run_a.run_id, run_b.run_id
