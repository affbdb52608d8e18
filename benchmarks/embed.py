"""Embedding throughput and search latency.

1. Throughput: N distinct real texts from the bundled sample. The pipeline
   (``embed_pending``: read pending queries, hash, de-duplicate, embed, store) against a bare
   ``SentenceTransformer.encode`` of the same texts with the same batch size, same process.
2. Duplicate sharing: N queries drawn from N * distinct_share texts (LMSYS-like repetition);
   the effective rate is queries covered per second.
3. Search: 1M random unit vectors stored through the pipeline's tables; time to answer an
   unfiltered top-10 search (load + rank) and a filtered one (1% of queries), against numpy
   ranking an in-memory matrix as the floor.

    .venv/bin/python benchmarks/embed.py --texts 2000 --search-rows 1000000
"""

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy import insert

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import SearchFilters, search, top_k
from lmsys_pipeline.embedding.store import register_model, text_hash, vector_bytes
from lmsys_pipeline.ingestion.sources import bundled_sample_path


def sample_texts(count: int, seed: int = 0) -> list[str]:
    table = pq.read_table(bundled_sample_path(), columns=["conversation"])
    texts = list(dict.fromkeys(c[0]["content"].strip() for c in table.column(0).to_pylist()))
    random.Random(seed).shuffle(texts)
    while len(texts) < count:  # repeated with a marker so that every text stays distinct
        texts += [f"{t} ({len(texts) + i})" for i, t in enumerate(texts[: count - len(texts)])]
    return texts[:count]


def store_queries(db: DatabaseManager, texts: list[str], language=None) -> None:
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        connection.execute(
            insert(Query),
            [
                {
                    "conversation_id": f"bench-{i}",
                    "model": "bench",
                    "query_text": text,
                    "language": language(i) if language else None,
                    "created_at": now,
                }
                for i, text in enumerate(texts)
            ],
        )


def throughput(embedder, texts: list[str], workdir: Path) -> tuple[float, float]:
    db = DatabaseManager(workdir / "throughput.db")
    store_queries(db, texts)
    started = time.perf_counter()
    report = embed_pending(db, embedder)
    pipeline = time.perf_counter() - started
    assert report.texts_embedded == len(texts)
    started = time.perf_counter()
    embedder.model.encode(
        texts,
        batch_size=embedder.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    bare = time.perf_counter() - started
    db.dispose()
    return len(texts) / pipeline, len(texts) / bare


def duplicate_sharing(
    embedder, texts: list[str], distinct_share: float, workdir: Path
) -> tuple[float, int, int]:
    distinct = texts[: max(1, int(len(texts) * distinct_share))]
    rng = random.Random(1)
    queries = distinct + [rng.choice(distinct) for _ in range(len(texts) - len(distinct))]
    rng.shuffle(queries)
    db = DatabaseManager(workdir / "duplicates.db")
    store_queries(db, queries)
    started = time.perf_counter()
    report = embed_pending(db, embedder)
    seconds = time.perf_counter() - started
    db.dispose()
    return report.queries_covered / seconds, report.queries_covered, report.texts_embedded


def search_latency(embedder, rows: int, workdir: Path) -> dict[str, float]:
    db = DatabaseManager(workdir / "search.db")
    store_queries(
        db,
        [f"random query {i}" for i in range(rows)],
        language=lambda i: "rare" if i % 100 == 0 else "common",
    )
    register_model(db, embedder.name, embedder.dimension, embedder.backend)
    rng = np.random.default_rng(0)
    chunk = 50_000
    with db.engine.begin() as connection:
        for start in range(0, rows, chunk):
            vectors = rng.standard_normal((min(chunk, rows - start), embedder.dimension))
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("<f4")
            connection.execute(
                insert(TextEmbedding),
                [
                    {
                        "model": embedder.name,
                        "text_hash": text_hash(f"random query {start + i}"),
                        "vector": vector_bytes(v),
                    }
                    for i, v in enumerate(vectors)
                ],
            )
        connection.execute(
            insert(QueryEmbedding),
            [
                {"model": embedder.name, "query_id": i + 1, "text_embedding_id": i + 1}
                for i in range(rows)
            ],
        )
    timings = {}
    started = time.perf_counter()
    hits = search(db, embedder, "how do I reset my password", top=10)
    timings["unfiltered_search_s"] = time.perf_counter() - started
    assert len(hits) == 10
    started = time.perf_counter()
    hits = search(
        db, embedder, "how do I reset my password", top=10, filters=SearchFilters(language="rare")
    )
    timings["filtered_1pct_search_s"] = time.perf_counter() - started
    assert len(hits) == 10 and all(hit.language == "rare" for hit in hits)
    matrix = rng.standard_normal((rows, embedder.dimension)).astype(np.float32)
    query = embedder.embed(["how do I reset my password"])[0]
    started = time.perf_counter()
    top_k(matrix @ query, 10)
    timings["numpy_in_memory_rank_s"] = time.perf_counter() - started
    db.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--distinct-share", type=float, default=0.6)
    parser.add_argument("--search-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="lmsys-embed-bench-"))
    embedder = load_embedder(batch_size=args.batch_size)
    device = str(embedder.model.device)
    texts = sample_texts(args.texts)
    embedder.embed(texts[:64])  # warm-up, outside every timing

    pipeline_rate, bare_rate = throughput(embedder, texts, workdir)
    print(f"device: {device}; {len(texts):,} distinct sample texts, batch size {args.batch_size}")
    print(f"pipeline embed_pending : {pipeline_rate:8.1f} texts/s")
    print(f"bare model.encode      : {bare_rate:8.1f} texts/s")
    print(f"ratio pipeline / bare  : {pipeline_rate / bare_rate:.3f}")

    rate, covered, embedded = duplicate_sharing(embedder, texts, args.distinct_share, workdir)
    print(
        f"duplicate sharing: {covered:,} queries from {embedded:,} distinct texts "
        f"({args.distinct_share:.0%}) -> {rate:.1f} queries/s effective "
        f"({rate / pipeline_rate:.2f}x the distinct-text rate)"
    )

    if args.search_rows:
        timings = search_latency(embedder, args.search_rows, workdir)
        print(
            f"search over {args.search_rows:,} stored vectors: "
            + ", ".join(f"{name} {seconds:.3f}" for name, seconds in timings.items())
        )


if __name__ == "__main__":
    main()
