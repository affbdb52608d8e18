"""Clustering quality on the labelled sets of ../shared/data, through the pipeline's own code.

Every labelled set (Banking77 test split: 3,080 queries, 77 intents; HWU64: 11,033 utterances,
64 intents) becomes LMSYS-layout rows, is ingested and embedded with the default model, and is
clustered by registered runs for each algorithm x reduction: parameters built as
``lmsys cluster`` builds them (``build_params``: only the reduction, the seed and, for KMeans,
k = the number of labels are given; everything else is the default), then ``register_run`` +
``materialize_run`` as the ``cluster_run`` asset runs them, and the stored assignments are
scored. NMI x 100 against the labels (HDBSCAN's noise counts as one more class), ARI x 100,
noise share, clusters; mean over 3 seeds. Yardstick in the same run: sklearn KMeans (k,
n_init 10) on the L2-normalised vectors.

    .venv/bin/python benchmarks/quality.py [--shared ../shared/data] [--sets banking77 hwu64]
"""

import argparse
import csv
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sqlalchemy import select

from lmsys_pipeline.clustering.registry import build_params
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.vectors import unit_rows

K = 77  # Banking77's intents (label_quality.py and kmeans_variants.py cluster with it)
SEEDS = (0, 1, 2)
COMBINATIONS = (
    ("kmeans", "umap"),
    ("kmeans", "pca"),
    ("kmeans", "none"),
    ("hdbscan", "umap"),
    ("hdbscan", "pca"),
)


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


def _row(conversation_id: str, text: str) -> dict:
    return {
        "conversation_id": conversation_id,
        "model": "unknown",
        "conversation": [{"role": "user", "content": text}],
    }


def banking_rows(shared: Path, splits: list[str]) -> tuple[list[dict], dict[str, str]]:
    rows, intents = [], {}
    for split in splits:
        with open(shared / "banking77" / f"{split}.csv", newline="", encoding="utf-8") as handle:
            for index, record in enumerate(csv.DictReader(handle)):
                conversation_id = f"banking77-{split}-{index:05d}"
                intents[conversation_id] = record["category"]
                rows.append(_row(conversation_id, record["text"]))
    return rows, intents


def hwu_rows(shared: Path) -> tuple[list[dict], dict[str, str]]:
    rows, intents = [], {}
    with open(shared / "hwu64" / "hwu64.jsonl", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            conversation_id = f"hwu64-{index:05d}"
            intents[conversation_id] = record["intent"]
            rows.append(_row(conversation_id, record["text"]))
    return rows, intents


def load_set(name: str, rows: list[dict], intents: dict[str, str], workdir: Path, embedder):
    """Ingests and embeds ``rows`` into a new database; returns it, its vectors and the label
    of each embedded query (in the vectors' order)."""
    parquet = workdir / f"{name}.parquet"
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


def prepare(shared: Path, splits: list[str], workdir: Path, embedder):
    """Banking77 ``splits`` loaded and embedded (label_quality.py and kmeans_variants.py)."""
    rows, intents = banking_rows(shared, splits)
    return load_set("banking77-" + "-".join(splits), rows, intents, workdir, embedder)


@dataclass
class Outcome:
    nmi: float
    ari: float
    noise: float
    clusters: int
    seconds: float


def registered_run(db: DatabaseManager, stored, params) -> tuple[np.ndarray, float]:
    """One run registered and materialized; its stored cluster ids in ``stored``'s order and
    the seconds the materialization took."""
    run = register_run(db, params)
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
    return np.array([assigned[int(q)] for q in stored.query_ids]), seconds


def pipeline_run(db: DatabaseManager, stored, labels: np.ndarray, params) -> Outcome:
    predicted, seconds = registered_run(db, stored, params)
    found = scores(labels, predicted)
    return Outcome(
        found["NMI"],
        found["ARI"],
        float(np.mean(predicted == -1)),
        len(set(predicted.tolist()) - {-1}),
        seconds,
    )


def yardstick(vectors: np.ndarray, labels: np.ndarray, seed: int) -> Outcome:
    from sklearn.cluster import KMeans

    k = len(np.unique(labels))
    started = time.perf_counter()
    predicted = KMeans(k, n_init=10, random_state=seed).fit_predict(unit_rows(vectors))
    found = scores(labels, predicted)
    return Outcome(found["NMI"], found["ARI"], 0.0, k, time.perf_counter() - started)


def measure(db: DatabaseManager, stored, labels: np.ndarray) -> dict[str, list[Outcome]]:
    k = len(np.unique(labels))
    vectors = stored.for_queries()
    results = {"yardstick: sklearn KMeans on the vectors": []}
    for seed in SEEDS:
        results["yardstick: sklearn KMeans on the vectors"].append(yardstick(vectors, labels, seed))
    for algorithm, reduction in COMBINATIONS:
        fields = {"reduction": reduction} | ({"n_clusters": k} if algorithm == "kmeans" else {})
        name = f"{algorithm} x {reduction}"
        results[name] = []
        for seed in SEEDS:
            params = build_params(algorithm, {**fields, "seed": seed})
            outcome = pipeline_run(db, stored, labels, params)
            results[name].append(outcome)
            print(
                f"  {name}, seed {seed}: NMI {outcome.nmi:.1f}, noise {outcome.noise:.1%}, "
                f"{outcome.clusters} clusters, {outcome.seconds:.1f} s",
                flush=True,
            )
    return results


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def table(results: dict[str, dict[str, list[Outcome]]]) -> str:
    sets = list(results)
    header = ["algorithm x reduction"] + [
        f"{name} {column}" for name in sets for column in ("NMI", "ARI", "noise", "clusters", "s")
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for row in results[sets[0]]:
        cells = [row]
        for name in sets:
            outcomes = results[name][row]
            cells += [
                mean_std([o.nmi for o in outcomes]),
                mean_std([o.ari for o in outcomes]),
                f"{np.mean([o.noise for o in outcomes]):.1%}",
                f"{np.mean([o.clusters for o in outcomes]):.0f}",
                f"{np.mean([o.seconds for o in outcomes]):.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="+", default=["banking77", "hwu64"])
    args = parser.parse_args()
    readers = {
        "banking77": lambda: banking_rows(args.shared, ["test"]),
        "hwu64": lambda: hwu_rows(args.shared),
    }
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-quality-"))
    embedder = load_embedder()
    results = {}
    for name in args.sets:
        rows, intents = readers[name]()
        db, stored, labels = load_set(name, rows, intents, workdir, embedder)
        print(f"[{name}] {len(np.unique(labels))} labels, seeds {SEEDS}")
        results[name] = measure(db, stored, labels)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
