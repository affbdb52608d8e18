"""Clustering quality on Banking77 (77 labelled intents), through the pipeline's own code.

Banking77 queries become LMSYS-layout rows, are ingested and embedded with the default model,
and clustered with k = 77 by a registered clustering run (``register_run`` +
``materialize_run``, what the ``cluster_run`` asset runs). Scores against the intents: NMI, ARI
and accuracy under the best one-to-one matching (Hungarian). In the same run: the yardstick
(sklearn KMeans, k = 77, n_init = 10 on L2-normalised vectors) and the variants tried.

    .venv/bin/python benchmarks/quality.py [--shared ../shared/data]
"""

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.store import load_vectors
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.vectors import unit_rows

K = 77


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    classes, truth = np.unique(labels, return_inverse=True)
    clusters, guess = np.unique(predicted, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(counts, (guess, truth), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(labels)


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "NMI": 100 * normalized_mutual_info_score(labels, predicted),
        "ARI": 100 * adjusted_rand_score(labels, predicted),
        "ACC": 100 * accuracy(labels, predicted),
    }


def banking_rows(shared: Path, splits: list[str]) -> tuple[list[dict], dict[str, str]]:
    rows, intents = [], {}
    for split in splits:
        with open(shared / "banking77" / f"{split}.csv", newline="", encoding="utf-8") as handle:
            for index, record in enumerate(csv.DictReader(handle)):
                conversation_id = f"banking77-{split}-{index:05d}"
                intents[conversation_id] = record["category"]
                rows.append(
                    {
                        "conversation_id": conversation_id,
                        "model": "unknown",
                        "conversation": [{"role": "user", "content": record["text"]}],
                    }
                )
    return rows, intents


def prepare(shared: Path, splits: list[str], workdir: Path, embedder):
    rows, intents = banking_rows(shared, splits)
    name = "-".join(splits)
    parquet = workdir / f"banking77-{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    db = DatabaseManager(workdir / f"{name}.db")
    ingest_batches(db, open_source(str(parquet)).batches(10_000))
    started = time.perf_counter()
    embed_pending(db, embedder)
    print(f"[{name}] {len(rows):,} queries embedded in {time.perf_counter() - started:.0f} s")
    stored = load_vectors(db, embedder.name)
    with db.engine.connect() as connection:
        conversation_of = dict(connection.execute(select(Query.id, Query.conversation_id)).all())
    labels = np.array([intents[conversation_of[int(q)]] for q in stored.query_ids])
    return db, stored, labels


def pipeline_run(db: DatabaseManager, stored, labels: np.ndarray, **settings) -> dict:
    run = register_run(db, KMeansParams(n_clusters=K, **settings))
    started = time.perf_counter()
    materialize_run(db, run.run_id)
    seconds = time.perf_counter() - started
    with db.engine.connect() as connection:
        assigned = dict(
            connection.execute(
                select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                    QueryCluster.run_id == run.run_id
                )
            ).all()
        )
    predicted = np.array([assigned[int(q)] for q in stored.query_ids])
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
    fit = fit_clustering(vectors, KMeansParams(n_clusters=K, seed=seed, **settings))
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
