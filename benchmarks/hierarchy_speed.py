"""Hierarchy-run throughput against a loopback OpenAI-compatible server with fixed latency.

1,000 clusters (KMeans k = 1,000 over the bundled sample's 16,645 real queries, synthetic
clustered vectors as in ``summarize.py``), titled offline, organised by an LLM hierarchy run
with the defaults (levels of x0.2 until the top holds 10: 1,000 -> 215 -> 46 -> 10), every
answer after 500 ms, concurrency 16. A level asks in steps that depend on each other
(proposals, merges, assignments, re-assignments, renames), so the ideal time is, step by step,
ceil(requests / concurrency) x latency, summed; the request phase is the time spent inside
those steps (embedding titles and k-means between them are not requests). Yardstick in the same
script: a bare ``AsyncOpenAI`` loop making the same number of requests per step.

    .venv/bin/python benchmarks/hierarchy_speed.py [--clusters 1000] [--concurrency 16]
"""

import argparse
import asyncio
import math
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarize import bare_client, build, serve

from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.hierarchy.prepare import prepare_hierarchy
from lmsys_pipeline.hierarchy.runner import build_hierarchy
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline_tests.support.pipeline_data import summarize


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        db, run_id = build(Path(workdir), args.clusters)
        summarize(db, run_id, "kw", label_quality_queries=0)
        print(f"{args.clusters} clusters built and titled in {time.perf_counter() - started:.0f} s")
        embedder = load_embedder()
        urls, stop = multiprocessing.Queue(), multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop))
        server.start()
        try:
            url = urls.get(timeout=30)
            throughput = ThroughputSettings(base_url=url, concurrency=args.concurrency)
            started = time.perf_counter()
            prepared = prepare_hierarchy(
                db, run_id, "kw", {"model": "vllm/bench"}, throughput, api_key="bench"
            )
            report = build_hierarchy(db, prepared, load_embedder=lambda name: embedder)
            whole = time.perf_counter() - started
            steps = report.request_steps
            bare = []
            for requests in steps:
                began = time.perf_counter()
                asyncio.run(bare_client(url, requests, args.concurrency))
                bare.append(time.perf_counter() - began)
        finally:
            stop.set()
            server.join()
    entry = report.entry
    ideal = sum(math.ceil(n / args.concurrency) * args.latency for n in steps)
    spread = sum(steps) * args.latency / args.concurrency
    asking = report.seconds_asking
    print(
        f"levels {entry.level_sizes}, {entry.requests:,} requests in {len(steps)} dependent "
        f"steps {steps}; status {entry.status}, {entry.orphans} orphans"
    )
    print(
        f"ideal (sum over steps of ceil(requests / {args.concurrency}) x "
        f"{args.latency * 1000:.0f} ms): {ideal:.2f} s; requests x latency / concurrency: "
        f"{spread:.2f} s"
    )
    for name, seconds in [
        ("yardstick bare AsyncOpenAI loop, same steps", sum(bare)),
        ("request phase of build_hierarchy", asking),
    ]:
        print(f"  {name:44s} {seconds:6.2f} s -> {ideal / seconds:.3f} of ideal")
    print(
        f"  whole run (embedding titles, k-means, ledger, tree): {whole:.2f} s "
        f"(outside requests: {whole - asking:.2f} s)"
    )


if __name__ == "__main__":
    main()
