"""Summary-run throughput against a loopback OpenAI-compatible server with fixed latency.

200 clusters (KMeans k = 200 over the bundled sample's 16,645 real queries, with synthetic
clustered vectors so no embedding time is spent), concurrency 16, every answer after 500 ms.
The ideal wall time is clusters x latency / concurrency. Measured in the same script:
  * the yardstick: a bare ``AsyncOpenAI`` loop (semaphore, no parsing, no database);
  * ``prepare_summary`` + ``summarize_run``: the ledger entry, selection, prompts, the
    rate-limited client, validation, one commit per cluster and the ledger (label quality off:
    the vectors are synthetic).

    .venv/bin/python benchmarks/summarize.py [--clusters 200] [--concurrency 16] [--latency 0.5]
"""

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.embedding.store import register_model, save_chunk, text_hash
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.runner import summarize_run
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

MODEL = "synthetic-384"


def build(workdir: Path, clusters: int) -> tuple[DatabaseManager, str]:
    db = DatabaseManager(workdir / "bench.db")
    ingest_batches(db, open_source(None).batches(10_000))
    with db.engine.connect() as connection:
        queries = connection.execute(select(Query.id, Query.query_text)).all()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((clusters, 384))
    register_model(db, MODEL, 384, "synthetic")
    vectors: dict[bytes, np.ndarray] = {}
    for _, text in queries:
        key = text_hash(text)
        if key not in vectors:
            vector = centres[rng.integers(clusters)] + 0.6 * rng.standard_normal(384)
            vectors[key] = (vector / np.linalg.norm(vector)).astype(np.float32)
    with db.engine.begin() as connection:
        save_chunk(connection, MODEL, vectors, [(q, text_hash(t)) for q, t in queries])
    run = register_run(db, KMeansParams(n_clusters=clusters, embedding_model=MODEL))
    materialize_run(db, run.run_id)
    return db, run.run_id


async def bare_client(url: str, requests: int, concurrency: int) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="bench", base_url=url)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await client.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": f"1. request {i}"}]
            )

    async with asyncio.TaskGroup() as group:
        for i in range(requests):
            group.create_task(one(i))
    await client.close()


def serve(latency: float, urls, stop) -> None:
    """The loopback server in its own process, so it does not share the client's GIL."""
    with openai_server(ServerState(chat_latency=latency)) as url:
        urls.put(url)
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    ideal = args.clusters * args.latency / args.concurrency
    with tempfile.TemporaryDirectory() as workdir:
        db, run_id = build(Path(workdir), args.clusters)
        urls, stop = multiprocessing.Queue(), multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop))
        server.start()
        try:
            url = urls.get(timeout=30)
            started = time.perf_counter()
            asyncio.run(bare_client(url, args.clusters, args.concurrency))
            bare = time.perf_counter() - started
            overrides = {"model": "vllm/bench", "label_quality_queries": 0}
            throughput = ThroughputSettings(base_url=url, concurrency=args.concurrency)
            marks: list[tuple[float, str]] = []
            started = time.perf_counter()
            prepared = prepare_summary(db, run_id, "bench", overrides, throughput)
            report = summarize_run(
                db, prepared, log=lambda m: marks.append((time.perf_counter(), m))
            )
            pipeline = time.perf_counter() - started
        finally:
            stop.set()
            server.join()
        asking = next(t for t, m in marks if m.startswith("Asking"))
        llm_phase = pipeline - (asking - started)
        entry = report.entry
        assert entry.clusters_done == args.clusters, entry
        print(
            f"{args.clusters} clusters, concurrency {args.concurrency}, latency "
            f"{args.latency * 1000:.0f} ms: ideal {ideal:.2f} s"
        )
        print(f"  yardstick bare AsyncOpenAI loop: {bare:.2f} s -> {ideal / bare:.3f} of ideal")
        print(
            f"  summarize_run (all phases):      {pipeline:.2f} s -> {ideal / pipeline:.3f} "
            f"of ideal, {entry.requests} requests, {entry.tokens_in:,} tokens in"
        )
        print(
            f"    of which before the first request (view, briefs, ledger): "
            f"{asking - started:.2f} s; asking, validating and committing: {llm_phase:.2f} s "
            f"-> {ideal / llm_phase:.3f} of ideal"
        )


if __name__ == "__main__":
    main()
