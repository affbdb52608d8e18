"""Search over 1M stored vectors: the vector cache against today's path, SQLite and PostgreSQL.

For each database: N random unit 384-d vectors (one per query, all distinct: the worst case)
stored through the pipeline's own ``save_chunk``; 1% of the queries have language "rare".
Then, each measurement in a fresh process with the real embedding model loaded beforehand
(``search()`` embeds the query text, loads the candidates' vectors, ranks, reads the hits):

- today: ``search`` with the cache off (every call reads the vectors through SQL);
- cache build: ``refresh_cache`` (what the embedding asset runs after a materialization);
- cold: the first search of a fresh process after evicting the cache files from the page cache
  (``posix_fadvise(DONTNEED)``), then warm: the next searches of the same process;
- filtered to 1% (``--language rare``), cache and today: the median of three;
- recall@10 of 20 searches against a brute-force top-10 over the matrix read from the tables.

    .venv/bin/python benchmarks/search.py --rows 1000000 --backends sqlite,postgresql
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import in_fresh_process

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query

MODEL = "all-MiniLM-L6-v2"
DIM = 384
QUERIES = [
    "how do I reset my password",
    "write a poem about the sea",
    "my card payment was declined",
    "explain quantum computing simply",
    "best way to learn python",
]


def build(url: str, rows: int) -> float:
    from lmsys_pipeline.embedding.store import register_model, save_chunk, text_hash

    db = DatabaseManager(url, vector_cache="off")
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    chunk = 50_000
    now = datetime.now(UTC)
    register_model(db, MODEL, DIM, "sentence-transformers")
    for start in range(0, rows, chunk):
        count = min(chunk, rows - start)
        with db.engine.begin() as connection:
            connection.execute(
                insert(Query),
                [
                    {
                        "conversation_id": f"bench-{i}",
                        "model": "bench",
                        "query_text": f"random query {i}",
                        "language": "rare" if i % 100 == 0 else "common",
                        "created_at": now,
                    }
                    for i in range(start, start + count)
                ],
            )
            vectors = rng.standard_normal((count, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            hashes = [text_hash(f"random query {i}") for i in range(start, start + count)]
            save_chunk(
                connection,
                MODEL,
                dict(zip(hashes, vectors, strict=True)),
                [(start + i + 1, h) for i, h in enumerate(hashes)],
            )
    db.dispose()
    return time.perf_counter() - started


def _evict(folder: Path) -> None:
    """Drops the files from the page cache (written pages must reach the disk first)."""
    os.sync()
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def measure(url: str, cache: str, repeats: int) -> dict:
    """In a fresh process: the model loaded first, then timed searches."""
    from lmsys_pipeline.embedding.cache import refresh_cache
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.search import SearchFilters, search

    embedder = load_embedder()
    embedder.embed(["warm-up"])
    db = DatabaseManager(url, vector_cache=cache)
    timings: dict[str, object] = {}
    if cache != "off":
        started = time.perf_counter()
        timings["refresh"] = refresh_cache(db, MODEL).action
        timings["refresh_s"] = time.perf_counter() - started
        _evict(db.vector_cache_dir)
    runs = []
    for text in (QUERIES * repeats)[: max(repeats, 1)]:
        started = time.perf_counter()
        hits = search(db, embedder, text, top=10)
        runs.append(time.perf_counter() - started)
        assert len(hits) == 10
    timings["unfiltered_s"] = runs
    filtered = []
    for text in QUERIES[:3]:
        started = time.perf_counter()
        hits = search(db, embedder, text, top=10, filters=SearchFilters(language="rare"))
        filtered.append(time.perf_counter() - started)
        assert len(hits) == 10 and all(hit.language == "rare" for hit in hits)
    timings["filtered_s"] = float(np.median(filtered))
    db.dispose()
    return timings


def recall(url: str, cache: str, searches: int = 20) -> float:
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.search import search
    from lmsys_pipeline.embedding.store import load_vectors_from_db

    embedder = load_embedder()
    db = DatabaseManager(url, vector_cache=cache)
    truth = load_vectors_from_db(db, MODEL, DIM)
    matrix = truth.for_queries()
    texts = [f"{q} {i}" for i in range(searches // len(QUERIES) + 1) for q in QUERIES][:searches]
    found = 0
    for text, vector in zip(texts, embedder.embed(texts), strict=True):
        best = np.argsort(-(matrix @ vector), kind="stable")[:10]
        hits = {hit.query_id for hit in search(db, embedder, text, top=10)}
        found += len(hits & set(truth.query_ids[best].tolist()))
    db.dispose()
    return found / (10 * len(texts))


def cli_seconds(url: str, cache: str) -> float:
    """`lmsys search` end to end: process start, imports, model load, search, output."""
    lmsys = str(Path(sys.executable).parent / "lmsys")
    started = time.perf_counter()
    subprocess.run(
        [lmsys, "search", QUERIES[0], "--db-url", url, "--json"],
        check=True,
        capture_output=True,
        env={**os.environ, "LMSYS_VECTOR_CACHE": cache},
    )
    return time.perf_counter() - started


def run_backend(name: str, url: str, rows: int, cache: str) -> None:
    """``cache``: the cache root ("" = the default: next to a SQLite file)."""
    print(f"\n== {name}: {rows:,} stored vectors ==", flush=True)
    print(f"store (queries + vectors + links): {build(url, rows):.1f} s", flush=True)
    today = in_fresh_process(measure, url, "off", 2)
    print(
        f"today (no cache): unfiltered {', '.join(f'{s:.2f}' for s in today['unfiltered_s'])} s;"
        f" filtered 1% {today['filtered_s']:.3f} s (median of 3)",
        flush=True,
    )
    cached = in_fresh_process(measure, url, cache, 6)
    first, *warm = cached["unfiltered_s"]
    print(
        f"cache: {cached['refresh']} in {cached['refresh_s']:.1f} s; cold {first:.3f} s; "
        f"warm {', '.join(f'{s:.3f}' for s in warm)} s (median {np.median(warm):.3f}); "
        f"filtered 1% {cached['filtered_s']:.3f} s (median of 3)",
        flush=True,
    )
    for attempt in (1, 2):
        again = in_fresh_process(measure, url, cache, 1)
        print(f"cold, fresh process {attempt}: {again['unfiltered_s'][0]:.3f} s", flush=True)
    print(f"recall@10 vs brute force: {in_fresh_process(recall, url, cache):.3f}", flush=True)
    print(f"`lmsys search` end to end (process + model load): {cli_seconds(url, cache):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-search-bench-"))
    print(f"load average at start: {os.getloadavg()}")
    with ExitStack() as stack:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend("SQLite", f"sqlite:///{workdir}/search.db", args.rows, "")
            else:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from lmsys_pipeline_tests.support.postgres import postgres_server

                url = stack.enter_context(postgres_server())
                run_backend("PostgreSQL", url, args.rows, str(workdir / "vector-cache"))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
