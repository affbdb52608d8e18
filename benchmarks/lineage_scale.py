"""Issue 15 at 1M queries, the computations only (reading the tables is measured by
chain.py / search.py): lineage between two 1M-query runs of k=200, assigning 100k new queries
to a 1M run (nearest centroid + novelty calibration), trends by week over 1M assignments.

Synthetic but shaped like real runs: 1M unit vectors around 200 centres (384-d), run A's
labels = nearest centre; run B = run A's queries plus 200k more, with 10% of its labels moved
to a neighbouring cluster and one cluster split in two. Each figure has a yardstick in the same
process: lineage against a plain numpy contingency count (np.unique over pair keys, the
least any Jaccard needs), assignment against a bare ``X @ C.T`` argmax, trends against a polars
group-by. Peak memory: ru_maxrss of the process after each step.

    flock -x /tmp/lmsys-heavy.lock timeout 900 .venv/bin/python benchmarks/lineage_scale.py
"""

import argparse
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from lmsys_pipeline.clustering.late import nearest_cosines, novelty_threshold
from lmsys_pipeline.lineage.match import Partition, match_runs
from lmsys_pipeline.reading.trends import period_counts
from lmsys_pipeline.vectors import centroids

DIM, K = 384, 200


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def timed(what: str, fn):
    started = time.perf_counter()
    value = fn()
    print(f"{what}: {time.perf_counter() - started:.2f} s (peak RSS {peak_gb():.2f} GB)")
    return value


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = unit(rng.standard_normal((K, DIM)))
    total = args.queries + max(args.new, int(args.queries * 0.2))
    labels_all = rng.integers(0, K, total)
    vectors = np.empty((total, DIM), dtype=np.float32)
    for start in range(0, total, 100_000):
        chunk = labels_all[start : start + 100_000]
        noise = rng.standard_normal((len(chunk), DIM)).astype(np.float32) * 0.06
        vectors[start : start + 100_000] = unit(centres[chunk] + noise)
    n = args.queries
    ids = np.arange(1, total + 1)
    labels_a = labels_all[:n]
    # run B: 20% more queries, 10% moved to another cluster, cluster 0 split in two
    extra = int(n * 0.2)
    b_ids = np.arange(1, n + extra + 1)
    labels_b = np.concatenate([labels_a, rng.integers(0, K, extra)])
    moved = rng.random(len(labels_b)) < 0.1
    labels_b[moved] = (labels_b[moved] + 1) % K
    half = (labels_b == 0) & (rng.random(len(labels_b)) < 0.5)
    labels_b[half] = K
    b_rows = b_ids - 1
    print(f"{n:,} queries in run A, {len(b_ids):,} in run B, k={K}; {DIM}-d")

    def lineage():
        a = Partition(ids[:n], labels_a, centroids(vectors, labels_a, np.arange(n)))
        b = Partition(b_ids, labels_b, centroids(vectors, labels_b, b_rows))
        return match_runs(a, b)

    relations = timed("lineage (centroids + match_runs)", lineage)
    kinds = {}
    for r in relations:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    print(f"  relations: {kinds}")
    timed(
        "  yardstick: np.unique over pair keys",
        lambda: np.unique(labels_a * (K + 1) + labels_b[:n], return_counts=True),
    )

    new = vectors[n : n + args.new]
    member_rows = np.arange(n)

    def assign():
        centres_a = centroids(vectors, labels_a, member_rows)
        nearest, best = nearest_cosines(new, centres_a)
        threshold = novelty_threshold(vectors, member_rows, labels_a, seed=42)
        return nearest, best < threshold

    timed(f"assign {args.new:,} new queries (centroids, nearest, novelty calibration)", assign)
    centres_a = centroids(vectors, labels_a, member_rows)
    timed("  yardstick: bare X @ C.T argmax", lambda: np.argmax(new @ centres_a.T, axis=1))

    import polars as pl
    import pyarrow as pa

    start = datetime(2024, 1, 1)
    offsets = rng.integers(0, 180 * 24 * 3600, n)
    created = np.datetime64(start) + offsets.astype("timedelta64[s]")
    table = pa.table(
        {
            "cluster_id": pa.array(labels_a, pa.int64()),
            "created_at": pa.array(created.astype("datetime64[us]")),
            "own": pa.array([None] * n, pa.string()),
            "aside": pa.array([0] * n, pa.int64()),
        }
    )
    periods, _, _ = timed(
        "trends by week over 1M (DuckDB over Arrow)", lambda: period_counts(table, "week")
    )
    print(f"  {len(periods)} weeks")
    frame = pl.from_arrow(table)
    timed(
        "  yardstick: polars group_by(cluster, week)",
        lambda: frame.group_by("cluster_id", pl.col("created_at").dt.truncate("1w")).len(),
    )


if __name__ == "__main__":
    main()
