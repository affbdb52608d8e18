"""UMAP on fewer than 4,096 queries: its own exact neighbours against ours, through the pipeline.

Below 4,096 points UMAP finds each point's neighbours exactly, by calling its compiled cosine
once per pair from Python (``sklearn.metrics.pairwise_distances`` with a callable).
``clustering/reduction.py`` hands it the same neighbours from one matrix product instead
(``exact_cosine_neighbours``). Yardstick in the same process: UMAP's own search
(``EXACT_KNN_ROWS`` set to 0 for those runs). Both on Banking77's test split (3,080 queries,
77 intents) and a seeded sample of 3,000 HWU64 utterances (64 intents): KMeans (k = labels)
and HDBSCAN over UMAP, registered and materialized as ``lmsys cluster`` does, 3 seeds each;
NMI and ARI x 100 against the labels, and the seconds of each materialization.

    .venv/bin/python benchmarks/umap_small.py [--shared ../shared/data]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from quality import banking_rows, hwu_rows, load_set, registered_run, scores

from lmsys_pipeline.clustering import reduction
from lmsys_pipeline.clustering.registry import build_params
from lmsys_pipeline.embedding.embedders import load_embedder

SEEDS = (0, 1, 2)
HWU_SAMPLE = 3_000
SEARCHES = {"UMAP's own (yardstick)": 0, "one matrix product": reduction.EXACT_KNN_ROWS}


def neighbours_seconds(vectors: np.ndarray, k: int = 15) -> dict[str, float]:
    """Seconds to find every point's k neighbours: UMAP's way and ours, same vectors."""
    from sklearn.metrics import pairwise_distances

    umap = reduction.load_umap()
    started = time.perf_counter()
    pairwise_distances(vectors, metric=umap.distances.cosine)
    theirs = time.perf_counter() - started
    started = time.perf_counter()
    reduction.exact_cosine_neighbours(vectors, k, umap.distances.cosine)
    return {"UMAP's own (yardstick)": theirs, "one matrix product": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    rows_b, intents_b = banking_rows(args.shared, ["test"])
    rows_h, intents_h = hwu_rows(args.shared)
    picked = np.random.default_rng(0).choice(len(rows_h), HWU_SAMPLE, replace=False)
    rows_h = [rows_h[i] for i in sorted(picked)]
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-umap-small-"))
    embedder = load_embedder()
    lines = [
        "| set | algorithm | neighbours | NMI | ARI | clusters | s per run |",
        "|---" * 7 + "|",
    ]
    for name, rows, intents in (("banking77", rows_b, intents_b), ("hwu64", rows_h, intents_h)):
        db, stored, labels = load_set(name, rows, intents, workdir, embedder)
        k = len(np.unique(labels))
        print(f"[{name}] neighbour search seconds: {neighbours_seconds(stored.for_queries())}")
        for algorithm in ("kmeans", "hdbscan"):
            fields = {"reduction": "umap"} | ({"n_clusters": k} if algorithm == "kmeans" else {})
            for search, limit in SEARCHES.items():
                reduction.EXACT_KNN_ROWS = limit
                found, seconds, clusters = [], [], []
                for seed in SEEDS:
                    params = build_params(algorithm, {**fields, "seed": seed})
                    predicted, took = registered_run(db, stored, params)
                    found.append(scores(labels, predicted))
                    seconds.append(took)
                    clusters.append(len(set(predicted.tolist()) - {-1}))
                nmi = [f["NMI"] for f in found]
                ari = [f["ARI"] for f in found]
                line = (
                    f"| {name} | {algorithm} | {search} | {np.mean(nmi):.1f} ± {np.std(nmi):.1f} "
                    f"| {np.mean(ari):.1f} ± {np.std(ari):.1f} | {np.mean(clusters):.0f} "
                    f"| {np.mean(seconds):.1f} |"
                )
                print(line, flush=True)
                lines.append(line)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
