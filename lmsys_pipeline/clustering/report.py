"""What a finished clustering run tells its reader: sizes, quality and examples."""

from itertools import pairwise
from typing import Any

import numpy as np

from lmsys_pipeline.clustering.runs import RunResult, silhouette
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.markdown import table
from lmsys_pipeline.reading.central import central_queries

TOP_CLUSTERS = 10
EXAMPLES = 3
HISTOGRAM_BINS = (1, 10, 100, 1_000, 10_000, 100_000)


def size_histogram(sizes: list[int]) -> str:
    edges = [*HISTOGRAM_BINS, max(sizes, default=0) + 1]
    rows = []
    for low, high in pairwise(edges):
        count = sum(low <= size < high for size in sizes)
        if count:
            rows.append([f"{low:,}-{high - 1:,}", count, "█" * min(40, count)])
    return table(["cluster size", "clusters", ""], rows)


def largest_clusters(db: DatabaseManager, result: RunResult) -> str:
    """The 10 largest clusters with their share and three most central queries (as stored:
    ``lmsys cluster`` and ``lmsys inspect`` show the same ones)."""
    sizes = {c: n for c, n in result.sizes.items() if c != NOISE}
    top = sorted(sizes, key=lambda c: (-sizes[c], c))[:TOP_CLUSTERS]
    texts = central_queries(db, result.run_id, top, EXAMPLES)
    total = max(len(result.fit.labels), 1)
    rows = [
        [
            cluster,
            sizes[cluster],
            f"{sizes[cluster] / total:.1%}",
            " · ".join(" ".join(text.split())[:80] for text in texts[cluster]),
        ]
        for cluster in top
    ]
    return table(["cluster", "queries", "share", "most central queries"], rows)


def run_metadata(db: DatabaseManager, result: RunResult, vectors: np.ndarray) -> dict[str, Any]:
    real_sizes = [n for c, n in result.sizes.items() if c != NOISE]
    score = silhouette(vectors, result.fit.labels, result.params.seed)
    return {
        "algorithm": result.params.algorithm,
        "num_clusters": result.fit.num_clusters,
        "num_queries": len(result.query_ids),
        "noise_share": round(result.noise_share, 4),
        "largest_cluster_share": round(
            max(real_sizes, default=0) / max(len(result.query_ids), 1), 4
        ),
        "size_min": min(real_sizes, default=0),
        "size_median": float(np.median(real_sizes)) if real_sizes else 0.0,
        "size_max": max(real_sizes, default=0),
        "silhouette_cosine_sample": round(score, 4) if score is not None else None,
        "seconds_by_phase": {k: round(v, 2) for k, v in result.seconds.items()},
        "size_histogram": size_histogram(real_sizes),
        "largest_clusters": largest_clusters(db, result),
        **{k: v for k, v in result.fit.details.items()},
    }
