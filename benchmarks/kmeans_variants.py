"""KMeans variants on Banking77 (77 labelled intents), through the pipeline's own code: the
study behind the PCA path's settings (k-means++, n_init 10, PCA 128; "Clustering quality on
Banking77" in RESULTS.md). Since issue 13 UMAP is the default and these are the variants of
``--reduction pca``; benchmarks/quality.py scores every algorithm x reduction on both sets.

Banking77 queries are ingested and embedded with the default model and clustered with k = 77:
one registered run (``register_run`` + ``materialize_run``) and the variants through
``fit_clustering``. Scores against the intents: NMI, ARI and accuracy under the best
one-to-one matching (Hungarian). Yardstick in the same run: sklearn KMeans (k = 77,
n_init = 10 on L2-normalised vectors).

    .venv/bin/python benchmarks/kmeans_variants.py [--shared ../shared/data]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from quality import K, prepare, registered_run, scores

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.vectors import unit_rows

PCA = {"reduction": "pca"}  # the path these variants tune


def pipeline_run(db: DatabaseManager, stored, labels: np.ndarray, **settings) -> dict:
    params = KMeansParams(n_clusters=K, **(PCA | settings))
    predicted, seconds = registered_run(db, stored, params)
    return {**scores(labels, predicted), "seconds": seconds}


SEEDS = (0, 1, 2, 3, 4)


def sklearn_yardstick(vectors: np.ndarray, labels: np.ndarray, seed: int) -> dict:
    from sklearn.cluster import KMeans

    started = time.perf_counter()
    predicted = KMeans(K, n_init=10, random_state=seed).fit_predict(unit_rows(vectors))
    return {**scores(labels, predicted), "seconds": time.perf_counter() - started}


def variant(vectors: np.ndarray, labels: np.ndarray, seed: int, **settings) -> dict:
    """The pipeline's KMeans (``fit_clustering``) with ``settings`` on top of its defaults."""
    started = time.perf_counter()
    fit = fit_clustering(vectors, KMeansParams(n_clusters=K, seed=seed, **(PCA | settings)))
    return {**scores(labels, fit.labels), "seconds": time.perf_counter() - started}


def random_seeding(vectors: np.ndarray, labels: np.ndarray, seed: int) -> dict:
    import faiss

    from lmsys_pipeline.clustering.reduction import reduce_with_pca

    started = time.perf_counter()
    x = unit_rows(reduce_with_pca(unit_rows(vectors), 128, seed))  # spherical: back on the sphere
    kmeans = faiss.Kmeans(
        x.shape[1],
        K,
        niter=25,
        nredo=10,
        seed=seed,
        spherical=True,
        max_points_per_centroid=len(x) + 1,
    )
    kmeans.train(x)
    _, predicted = kmeans.index.search(x, 1)
    return {**scores(labels, predicted[:, 0]), "seconds": time.perf_counter() - started}


def over_seeds(run) -> dict[str, tuple[float, float]]:
    results = [run(seed) for seed in SEEDS]
    return {
        key: (float(np.mean([r[key] for r in results])), float(np.std([r[key] for r in results])))
        for key in ("NMI", "ARI", "ACC", "seconds")
    }


def report(split: str, results: dict[str, dict]) -> None:
    print(f"\n{split}: k = {K}, mean ± std over seeds {SEEDS}")
    print("| variant | NMI | ARI | ACC | seconds |\n|---|---:|---:|---:|---:|")
    for name, result in results.items():
        cells = " | ".join(
            f"{result[key][0]:.1f} ± {result[key][1]:.1f}" for key in ("NMI", "ARI", "ACC")
        )
        print(f"| {name} | {cells} | {result['seconds'][0]:.1f} |")


def evaluate(db: DatabaseManager, stored, labels: np.ndarray) -> dict[str, dict]:
    vectors = stored.for_queries()
    return {
        "yardstick: sklearn KMeans, n_init 10": over_seeds(
            lambda seed: sklearn_yardstick(vectors, labels, seed)
        ),
        "pipeline run (registered, seed 42, defaults)": {
            key: (value, 0.0) for key, value in pipeline_run(db, stored, labels).items()
        },
        "pipeline defaults: PCA 128, k-means++, faiss spherical, n_init 10": over_seeds(
            lambda seed: variant(vectors, labels, seed)
        ),
        "same, n_init 3": over_seeds(lambda seed: variant(vectors, labels, seed, n_init=3)),
        "same, inits on 20 x k sampled points + 10 full iterations": over_seeds(
            lambda seed: variant(vectors, labels, seed, train_points_per_centroid=20)
        ),
        "random seeding instead of k-means++ (faiss default), n_init 10": over_seeds(
            lambda seed: random_seeding(vectors, labels, seed)
        ),
        "no PCA (raw 384-d), k-means++, n_init 3": over_seeds(
            lambda seed: variant(vectors, labels, seed, reduction="none", n_init=3)
        ),
        "no PCA, n_init 10": over_seeds(
            lambda seed: variant(vectors, labels, seed, reduction="none")
        ),
        "PCA 64": over_seeds(lambda seed: variant(vectors, labels, seed, reduce_dims=64)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--full",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Also score the full 13,083-query set (train + test).",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-quality-"))
    embedder = load_embedder()
    splits = [["test"]] + ([["train", "test"]] if args.full else [])
    for split in splits:
        db, stored, labels = prepare(args.shared, split, workdir, embedder)
        report("+".join(split), evaluate(db, stored, labels))


if __name__ == "__main__":
    main()
