"""Does ``lmsys edit select-bad-clusters`` find clusters a person would call mixed?

On a real run (default: the bundled sample, loaded, embedded and clustered by KMeans k = 40
through the pipeline; or ``--db`` / ``--run-id`` of one already built, e.g. by ``make demo``),
each trial plants ``--planted`` incoherent clusters with ``move_queries``: into each, a share
of its size (``--share``) of queries drawn from three random other clusters. Then it ranks
the clusters and scores precision@k (k = the planted count) for the misfit-depth ranking and
yardsticks computed on the same planted state: the share of members closer to another
centroid, the lowest mean cosine to the centroid first, and the largest first. The planted
edits are undone after each trial (which also checks ``undo``).

    .venv/bin/python benchmarks/bad_clusters.py [--db demo.db --run-id RUN] [--trials 10]
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The test support package is not installed (the wheel ships lmsys_pipeline only).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmsys_pipeline.curation.coherence import rank_clusters
from lmsys_pipeline.curation.edits import move_queries
from lmsys_pipeline.curation.history import undo
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline_tests.support.tables import members


def build_sample_run(path: str) -> tuple[DatabaseManager, str]:
    from lmsys_pipeline.clustering.params import KMeansParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.embedding.embedders import load_embedder
    from lmsys_pipeline.embedding.runner import embed_pending
    from lmsys_pipeline.ingestion.loader import ingest_batches
    from lmsys_pipeline.ingestion.sources import open_source

    db = DatabaseManager(path)
    ingest_batches(db, open_source(None).batches(10_000))
    embed_pending(db, load_embedder())
    run = register_run(db, KMeansParams(n_clusters=40))
    materialize_run(db, run.run_id)
    return db, run.run_id


def trial(db: DatabaseManager, run_id: str, clusters: list[int], planted: int, share: float,
          seed: int) -> dict:  # fmt: skip
    rng = random.Random(seed)
    targets = rng.sample(clusters, planted)
    edits = []
    for target in targets:
        donors = rng.sample([c for c in clusters if c not in targets], 3)
        wanted = max(3, round(share * len(members(db, run_id, target))))
        strays = []
        for donor in donors:
            pool = members(db, run_id, donor)
            strays += rng.sample(pool, min(len(pool), -(-wanted // 3)))
        edits.append(move_queries(db, run_id, strays[:wanted], target, reason="planted"))
    ranked = rank_clusters(db, run_id)
    by_share = sorted(ranked, key=lambda c: -c.misfit_share)
    by_cosine = sorted(ranked, key=lambda c: c.mean_cosine)
    by_size = sorted(ranked, key=lambda c: -c.size)
    scores = {
        name: len({c.cluster_id for c in order[:planted]} & set(targets)) / planted
        for name, order in [("misfit depth", ranked), ("misfit share", by_share),
                            ("mean cosine", by_cosine), ("size", by_size)]
    }  # fmt: skip
    for edit_id in reversed(edits):
        undo(db, edit_id, reason="benchmark")
    return scores


def totals_names() -> list[str]:
    return ["misfit depth", "misfit share", "mean cosine", "size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--run-id")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--planted", type=int, default=5)
    parser.add_argument("--share", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    args = parser.parse_args()
    if args.db:
        db, run_id = DatabaseManager(args.db), args.run_id
        db.create_tables()
    else:
        db, run_id = build_sample_run(os.path.join(tempfile.mkdtemp(), "queries.db"))
    clusters = sorted({c.cluster_id for c in rank_clusters(db, run_id, min_size=20)})
    print(f"{run_id}: {len(clusters)} clusters of 20+ queries; {args.planted} planted per trial")
    print("| strays (share of the cluster) | " + " | ".join(totals_names()) + " | seconds |")
    print("|---:|---:|---:|---:|---:|---:|")
    for share in args.share:
        started = time.perf_counter()
        totals = dict.fromkeys(totals_names(), 0.0)
        for seed in range(args.trials):
            for name, value in trial(db, run_id, clusters, args.planted, share, seed).items():
                totals[name] += value / args.trials
        seconds = (time.perf_counter() - started) / args.trials
        shown = " | ".join(f"{totals[name]:.2f}" for name in totals_names())
        print(f"| {share:.0%} | {shown} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
