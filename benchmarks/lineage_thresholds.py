"""Where lineage links start: two KMeans runs over the bundled sample, the second seeing 20%
more queries (and a planted topic: HWU64 utterances of one scenario, absent before).

Through the pipeline's own code: the whole sample is ingested and embedded, then the planted
utterances; run A clusters the first 1/1.2 of the sample (``limit``), run B everything (same
k, same seed); run A' the same queries as A with another seed — the yardstick: how much a
re-fit alone reshuffles clusters when nothing changed. For each run pair: the best Jaccard
index of every later cluster, the kinds at several link thresholds, and where the planted
queries went.

    .venv/bin/python benchmarks/lineage_thresholds.py [--db /tmp/lineage.db] [--k 100]
        [--reduction umap|pca] [--planted alarm --planted-count 300]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.clustering.late import nearest_cosines, novelty_threshold
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, read_assignments, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.lineage.match import Thresholds, match_runs, overlaps
from lmsys_pipeline.lineage.runs import load_partition
from lmsys_pipeline.summarizing.carry import CARRY_OVERLAP
from lmsys_pipeline.vectors import centroids
from lmsys_pipeline_tests.support.pipeline_data import ingest_hwu64

LINKS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def build(db: DatabaseManager, workdir: Path, planted: str, count: int) -> tuple[int, int]:
    with db.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Query)).scalar_one()
    if not stored:
        ingest_batches(db, open_source(None).batches(10_000))
        with db.engine.connect() as connection:
            sample = connection.execute(select(func.count()).select_from(Query)).scalar_one()
        ingest_hwu64(db, workdir, scenario=planted, count=count)
        started = time.perf_counter()
        embed_pending(db, load_embedder())
        print(f"embedded in {time.perf_counter() - started:.0f} s")
    with db.engine.connect() as connection:
        sample = connection.execute(
            select(func.count()).where(~Query.conversation_id.like("hwu64-%"))
        ).scalar_one()
        first_planted = connection.execute(
            select(func.min(Query.id)).where(Query.conversation_id.like("hwu64-%"))
        ).scalar_one()
    return sample, first_planted


def run(db: DatabaseManager, **params) -> str:
    registered = register_run(db, KMeansParams(**params))
    started = time.perf_counter()
    materialize_run(db, registered.run_id)
    print(f"{registered.run_id} {params}: {time.perf_counter() - started:.0f} s")
    return registered.run_id


def describe(db, name: str, before_id: str, after_id: str, first_planted: int) -> None:
    stored = load_vectors(db, "all-MiniLM-L6-v2")
    before, after = load_partition(db, before_id, stored), load_partition(db, after_id, stored)
    pairs = overlaps(before, after)
    best = {}
    for (_, b), (overlap, _) in pairs.items():
        best[b] = max(best.get(b, 0.0), overlap)
    values = np.array([best.get(b, 0.0) for b in after.sizes()])
    print(f"\n== {name}: {before_id} -> {after_id}")
    print("best Jaccard per later cluster, quantiles 5/10/25/50/75/90:")
    print(
        "  " + " ".join(f"{q:.2f}" for q in np.quantile(values, [0.05, 0.1, 0.25, 0.5, 0.75, 0.9]))
    )
    print("  histogram (0.1 bins):", np.histogram(values, bins=10, range=(0, 1))[0].tolist())
    planted = after.labels[after.query_ids >= first_planted]
    main = None
    if len(planted):
        home, members = np.unique(planted, return_counts=True)
        main = int(home[np.argmax(members)])
        print(
            f"planted: {len(planted)} queries, {members.max() / len(planted):.0%} in cluster "
            f"{main} (size {after.sizes()[main]}, best Jaccard {best.get(main, 0.0):.2f})"
        )
    continuing = np.array([r.overlap for r in match_runs(before, after) if r.kind == "continues"])
    print(
        f"default link: {len(continuing)} continue, Jaccard 5%/25%/median "
        f"{np.quantile(continuing, [0.05, 0.25, 0.5]).round(2).tolist()}, "
        f">= carry overlap {CARRY_OVERLAP}: {(continuing >= CARRY_OVERLAP).sum()} "
        f"(titles carried: {(continuing >= CARRY_OVERLAP).sum() / len(after.sizes()):.0%} of "
        "the later clusters)"
    )
    for link in LINKS:
        relations = match_runs(before, after, Thresholds(link=link))
        kinds = {}
        for r in relations:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        planted_kind = [r.kind for r in relations if main is not None and r.to_cluster_id == main]
        continuing = [r for r in relations if r.kind == "continues"]
        cosines = np.array([r.cosine for r in continuing] or [0.0])
        new_cos = sorted(round(r.cosine, 2) for r in relations if r.kind == "new")
        print(
            f"  link {link:.1f}: {kinds}  planted cluster: {planted_kind}  continues cosine "
            f"min/5%/median {cosines.min():.3f}/{np.quantile(cosines, 0.05):.3f}/"
            f"{np.median(cosines):.3f}  new: nearest earlier centroid cosine {new_cos}"
        )


def novelty(db, run_id: str, first_planted: int) -> None:
    """Which share of the queries run A never saw each novelty quantile flags (the planted
    topic against the other new queries), with the held-out calibration of clustering/late.py."""
    stored = load_vectors(db, "all-MiniLM-L6-v2")
    seen, labels = read_assignments(db, run_id)
    rows = stored.rows[np.searchsorted(stored.query_ids, seen)]
    new = ~np.isin(stored.query_ids, seen)
    planted = stored.query_ids[new] >= first_planted
    _, best = nearest_cosines(
        stored.vectors[stored.rows[new]], centroids(stored.vectors, labels, rows)
    )
    print(f"\n== novelty of the {new.sum():,} queries {run_id} never saw ({planted.sum()} planted)")
    for quantile in (0.01, 0.02, 0.05, 0.1):
        threshold = novelty_threshold(stored.vectors, rows, labels, seed=42, quantile=quantile)
        flagged = best < threshold
        print(
            f"  quantile {quantile:.2f}: threshold {threshold:.3f}, planted novel "
            f"{flagged[planted].mean():.0%}, other new novel {flagged[~planted].mean():.1%}, "
            f"novel share {flagged.mean():.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--reduction", default="umap")
    parser.add_argument("--planted", default="alarm")
    parser.add_argument("--planted-count", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-lineage-"))
    db = DatabaseManager(args.db or workdir / "lineage.db")
    sample, first_planted = build(db, workdir, args.planted, args.planted_count)
    first = round(sample / 1.2)
    common = {"n_clusters": args.k, "reduction": args.reduction}
    run_a = run(db, limit=first, **common)
    run_b = run(db, **common)
    run_a2 = run(db, limit=first, seed=7, **common)
    print(f"{sample:,} sample queries, A sees the first {first:,}, B all and the planted ones")
    describe(db, "20% more data (+ planted)", run_a, run_b, first_planted)
    describe(db, "same data, another seed (yardstick)", run_a, run_a2, first_planted)
    novelty(db, run_a, first_planted)


if __name__ == "__main__":
    main()
