"""Embedding on a GPU (or any device): the bare fast encoder against the pipeline, one script.

Generates N LMSYS-like queries from the bundled sample (mostly short prompts, a long tail of
pasted documents, ~30% exact repeats), stores them in a fresh SQLite database, then:

1. bare encoder: the fast encoder (``FastEncoder.encode``) over the distinct texts in one call,
   no database: the model's ceiling, in texts/s;
2. pipeline: ``embed_pending`` of all N queries (read pending chunks, hash, skip repeats, embed,
   write each chunk on the writer thread while the next is encoded): queries/s and texts/s;
3. the ratio pipeline / bare (texts/s; the issue asks >= 0.9 on a GPU), and the cosine of the
   stored vectors of 2,000 queries to the fp32 reference (sentence-transformers' ``encode`` in
   fp32 on the same device; the contract is >= 0.999).

Here (CPU, proves the script works):   .venv/bin/python benchmarks/embed_gpu.py --queries 3000
On a GPU machine (see RESULTS.md for what to carry there):
    python3 benchmarks/embed_gpu.py --queries 1000000 --model .gpu/minilm-fp16
Making the 45 MB fp16 copy of the packaged model to carry:
    .venv/bin/python benchmarks/embed_gpu.py --write-fp16-model .gpu/minilm-fp16
Only the packages the embedding path needs are imported (no dagster, polars or faiss).
"""

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "lmsys_pipeline" / "data" / "sample.parquet"
sys.path.insert(0, str(ROOT))  # the package from this checkout, installed or not


def lmsys_like_texts(count: int, repeat_share: float = 0.3, seed: int = 0) -> list[str]:
    """``count`` queries: real sample prompts made distinct by a suffix, about one in eight
    followed by several more prompts (a pasted document: the long tail), ``repeat_share`` exact
    repeats of earlier queries, popular ones more often (LMSYS repeats many prompts)."""
    table = pq.read_table(SAMPLE, columns=["conversation"])
    pool = [c[0]["content"].strip() for c in table.column(0).to_pylist()]
    rng = random.Random(seed)
    texts: list[str] = []
    distinct: list[str] = []
    for i in range(count):
        if distinct and rng.random() < repeat_share:
            texts.append(distinct[int(len(distinct) * rng.random() ** 3)])  # skewed to the first
            continue
        text = f"{rng.choice(pool)} ({i})"
        if rng.random() < 0.12:
            text += "\n\n" + "\n\n".join(rng.choice(pool) for _ in range(rng.randint(2, 12)))
        distinct.append(text)
        texts.append(text)
    return texts


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def store_queries(db, texts: list[str]) -> None:
    from sqlalchemy import insert

    from lmsys_pipeline.db.models import Query

    now = datetime.now(UTC)
    for start in range(0, len(texts), 100_000):
        with db.engine.begin() as connection:
            connection.execute(
                insert(Query),
                [
                    {
                        "conversation_id": f"gpu-bench-{start + i}",
                        "model": "bench",
                        "query_text": text,
                        "created_at": now,
                    }
                    for i, text in enumerate(texts[start : start + 100_000])
                ],
            )


def write_fp16_model(folder: Path) -> None:
    from lmsys_pipeline.embedding.embedders import load_embedder

    embedder = load_embedder(device="cpu", fast=False)
    embedder.model.half().save(str(folder))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"wrote {folder} ({size / 1e6:.0f} MB)")


def cosine_to_reference(db, embedder, args, texts: list[str]) -> np.ndarray:
    """Cosines of the stored vectors of the first queries to fp32 ``encode`` of their texts."""
    import torch

    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.store import load_vectors_from_db

    reference = load_embedder(args.model, device=args.device, fast=False)
    reference.model.to(torch.float32)  # also when the checkpoint is an fp16 copy
    sample = list(range(1, min(args.reference_sample, len(texts)) + 1))
    stored = load_vectors_from_db(db, embedder.name, embedder.dimension, sample)
    expected = reference.embed(
        [texts[i - 1].strip()[: embedder.max_chars] for i in stored.query_ids]
    )
    return np.sum(stored.for_queries() * expected, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--repeat-share", type=float, default=0.3)
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="name or local folder")
    parser.add_argument("--device", default=None, help="default: cuda when torch sees one")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--reference-sample", type=int, default=2_000)
    parser.add_argument("--write-fp16-model", type=Path, default=None)
    args = parser.parse_args()
    if args.write_fp16_model:
        write_fp16_model(args.write_fp16_model)
        return

    import torch

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.runner import embed_pending

    texts = lmsys_like_texts(args.queries, args.repeat_share)
    distinct = list(dict.fromkeys(t.strip() for t in texts))
    db = DatabaseManager(Path(tempfile.mkdtemp(prefix="lmsys-gpu-bench-")) / "q.db")
    store_queries(db, texts)
    embedder = load_embedder(args.model, device=args.device, precision=args.precision)
    plan = getattr(getattr(embedder, "encoder", None), "plan", None)
    device_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu_name()
    tokens = embedder.encoder.tokenizers.ids(distinct[:20_000]) if plan else []
    print(
        f"device: {embedder.device} ({device_name}), {os.cpu_count()} cores, "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )
    print(f"engine: {embedder.engine}; plan: {plan}")
    print(
        f"{len(texts):,} queries, {len(distinct):,} distinct texts "
        f"({1 - len(distinct) / len(texts):.0%} repeats), mean "
        f"{np.mean([len(t) for t in tokens]) if tokens else float('nan'):.1f} tokens "
        f"(p99 {np.percentile([len(t) for t in tokens], 99) if tokens else float('nan'):.0f})"
    )
    embedder.embed(distinct[:2_000])  # warm-up: kernels, allocator, tokenizer threads

    started = time.perf_counter()
    embedder.embed([t[: embedder.max_chars] for t in distinct])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    bare = time.perf_counter() - started
    report = embed_pending(db, embedder)
    assert report.texts_embedded == len(distinct), (report.texts_embedded, len(distinct))
    cosines = cosine_to_reference(db, embedder, args, texts)

    bare_rate, pipe_rate = len(distinct) / bare, report.texts_embedded / report.seconds
    print(f"bare fast encoder : {bare:8.1f} s  {bare_rate:10,.0f} texts/s")
    print(
        f"pipeline          : {report.seconds:8.1f} s  {pipe_rate:10,.0f} texts/s  "
        f"{report.queries_per_second:10,.0f} queries/s "
        f"(1M queries in ~{1e6 / report.queries_per_second:,.0f} s)"
    )
    print(f"ratio pipeline / bare (texts/s): {pipe_rate / bare_rate:.3f}  (target >= 0.9 on a GPU)")
    print(
        f"cosine to fp32 encode over {len(cosines):,} stored vectors: min {cosines.min():.5f}, "
        f"mean {cosines.mean():.6f}  (contract >= 0.999): "
        + ("OK" if cosines.min() >= 0.999 else "FAILED")
    )


if __name__ == "__main__":
    main()
