"""The whole chain at 1M LMSYS-layout rows, on SQLite and on PostgreSQL: wall time and peak
memory per stage.

Stages, each in a fresh process (peak RSS = that process's VmHWM):
  1. ingest: 1M rows of the LMSYS layout (realistic duplicate share and lengths, see
     lmsys_synthetic.py) through ``ingest_batches``;
  2. embed: on CPU the real all-MiniLM-L6-v2 is *timed on a sample* of distinct texts and the
     full-run time extrapolated; the stored vectors are *synthetic* (unit vectors around 200
     centres, one per distinct text, keyed by the text's hash) written through the pipeline's
     own ``register_model`` / ``save_chunk`` — saying so, as the figures do;
  3. cluster: KMeans k = 200 with the defaults (``register_run`` + ``materialize_run``), or
     the cases of ``--clusterings`` (named as in cluster.py: ``kmeans-pca-200``,
     ``hdbscan-default``), each in its own process;
  4. summarize: the offline keyword summarizer over all 200 clusters (``prepare_summary`` +
     ``summarize_run``; label quality off, the vectors being synthetic).

    .venv/bin/python benchmarks/chain.py [--rows 1000000] [--backends sqlite,postgresql]
        [--clusterings kmeans-200 kmeans-pca-200 hdbscan-default]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import timed_in_fresh_process

MODEL = "synthetic-minilm-384"
CLUSTERS = 200
EMBED_SAMPLE = 2_000
CHUNK = 20_000


def ingest(url: str, parquet: str) -> dict:
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.ingestion.loader import ingest_batches
    from lmsys_pipeline.ingestion.sources import open_source

    report = ingest_batches(DatabaseManager(url), open_source(parquet).batches(10_000))
    return {"inserted": report.inserted}


def embed(url: str, _: str) -> dict:
    """Times the real model on a sample, then stores synthetic vectors for every text."""
    import numpy as np
    from sqlalchemy import select

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.db.models import Query
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.store import register_model, save_chunk, text_hash

    db = DatabaseManager(url)
    with db.engine.connect() as connection:
        queries = connection.execute(select(Query.id, Query.query_text).order_by(Query.id)).all()
    distinct: dict[bytes, str] = {}
    for _, text in queries:
        distinct.setdefault(text_hash(text), text)
    model = load_embedder()
    sample = list(distinct.values())[:EMBED_SAMPLE]
    started = time.perf_counter()
    model.embed(sample)
    per_text = (time.perf_counter() - started) / len(sample)
    centres = np.random.default_rng(0).standard_normal((CLUSTERS, 384)).astype(np.float32)
    register_model(db, MODEL, 384, "synthetic")
    started = time.perf_counter()
    seen: set[bytes] = set()
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start : start + CHUNK]
        new: dict[bytes, np.ndarray] = {}
        links = []
        for query_id, query_text in chunk:
            key = text_hash(query_text)
            links.append((query_id, key))
            if key not in seen:
                seen.add(key)
                rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
                vector = centres[rng.integers(CLUSTERS)] + 0.7 * rng.standard_normal(384)
                new[key] = (vector / np.linalg.norm(vector)).astype(np.float32)
        with db.engine.begin() as connection:
            save_chunk(connection, MODEL, new, links)
    return {
        "distinct_texts": len(distinct),
        "minilm_texts_per_s": round(1 / per_text, 1),
        "minilm_extrapolated_s": round(per_text * len(distinct)),
        "store_vectors_s": round(time.perf_counter() - started, 1),
    }


def cluster(url: str, _: str, case: str = f"kmeans-{CLUSTERS}") -> dict:
    from cluster import case_params

    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.db.connection import DatabaseManager

    db = DatabaseManager(url)
    run = register_run(db, case_params(case, embedding_model=MODEL))
    result, _ = materialize_run(db, run.run_id)
    return {
        "run_id": run.run_id,
        "clusters": result.fit.num_clusters,
        "noise": round(result.noise_share, 3),
        **{k: round(v, 1) for k, v in result.seconds.items()},
    }


def summarize(url: str, _: str) -> dict:
    from sqlalchemy import select

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.db.models import ClusteringRun
    from lmsys_pipeline.labeling.settings import ThroughputSettings
    from lmsys_pipeline.summarizing.prepare import prepare_summary
    from lmsys_pipeline.summarizing.runner import summarize_run

    db = DatabaseManager(url)
    with db.engine.connect() as connection:
        run_id = connection.execute(
            select(ClusteringRun.run_id).order_by(ClusteringRun.created_at).limit(1)
        ).scalar_one()
    overrides = {"model": "local/keywords", "label_quality_queries": 0}
    prepared = prepare_summary(db, run_id, "keywords", overrides, ThroughputSettings())
    report = summarize_run(db, prepared)
    return {"clusters_done": report.entry.clusters_done}


STAGES = {"ingest": ingest, "embed": embed, "cluster": cluster, "summarize": summarize}


def run_stage(name: str, url: str, parquet: str, *extra: str) -> tuple[float, float, dict]:
    return timed_in_fresh_process(STAGES[name], url, parquet, *extra)


def main() -> None:
    from lmsys_synthetic import write_lmsys_parquet

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clusterings", nargs="+", default=[f"kmeans-{CLUSTERS}"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        parquet = str(write_lmsys_parquet(Path(workdir) / "lmsys.parquet", args.rows))
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend(backend, f"sqlite:///{workdir}/chain.db", parquet, args.clusterings)
            else:
                from lmsys_pipeline_tests.support.postgres import postgres_server

                with postgres_server() as url:
                    run_backend(backend, url, parquet, args.clusterings)


def run_backend(backend: str, url: str, parquet: str, clusterings: list[str]) -> None:
    total = 0.0
    stages = [
        ("ingest", ()),
        ("embed", ()),
        *(("cluster", (case,)) for case in clusterings),
        ("summarize", ()),
    ]
    for name, extra in stages:
        seconds, peak, details = run_stage(name, url, parquet, *extra)
        if name != "embed" and (name != "cluster" or extra[0] == clusterings[0]):
            total += seconds
        label = " ".join((name, *extra))
        print(
            f"[{backend}] {label:9s} {seconds:7.1f} s  peak RSS {peak:6.0f} MB  {details}",
            flush=True,
        )
    print(
        f"[{backend}] ingest + cluster + summarize: {total:.1f} s "
        f"(embedding measured separately above; cluster: {clusterings[0]})",
        flush=True,
    )


if __name__ == "__main__":
    main()
