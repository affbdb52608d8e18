"""Label quality of the offline keyword summarizer on Banking77 (77 intents, 3,080 queries).

The test split goes through the pipeline (ingest, embed with all-MiniLM-L6-v2, KMeans k = 77,
``prepare_summary`` + ``summarize_run`` with local/keywords) and the summary run's label
accuracy is read from the ledger: held-out member queries matched against the labels of their
cluster and its 5 nearest siblings (chance 1/6). Yardsticks scored the same way, on the same
held-out queries:
  * oracle: each cluster labelled with its majority intent's name (e.g. "card arrival");
  * exemplar: each cluster labelled with only its most central query.

    .venv/bin/python benchmarks/label_quality.py [--shared ../shared/data]
"""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import K, prepare

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.quality import label_quality
from lmsys_pipeline.summarizing.runner import summarize_run
from lmsys_pipeline.summarizing.selection import build_briefs, load_run_view


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as workdir:
        db, stored, intents = prepare(args.shared, ["test"], Path(workdir), embedder)
        run = register_run(db, KMeansParams(n_clusters=K))
        materialize_run(db, run.run_id)
        started = time.perf_counter()
        prepared = prepare_summary(
            db, run.run_id, "keywords", {"model": "local/keywords"}, ThroughputSettings()
        )
        report = summarize_run(db, prepared, load_embedder=lambda _: embedder)
        params = prepared.params
        seconds = time.perf_counter() - started
        view = load_run_view(db, run.run_id)
        briefs = build_briefs(db, view, params, view.cluster_ids)
        shown = {c: b.shown_query_ids for c, b in briefs.items()}
        intent_of = dict(zip(stored.query_ids.tolist(), intents.tolist(), strict=True))
        oracle = {
            c: Counter(intent_of[int(q)] for q in view.query_ids[m])
            .most_common(1)[0][0]
            .replace("_", " ")
            for c, m in view.members.items()
        }
        exemplar = {c: b.queries[0] for c, b in briefs.items()}

        def score(labels):
            return label_quality(
                view, labels, shown, embedder, per_cluster=20, siblings=5, seed=params.seed
            )

        print(f"Banking77 test, {len(view.query_ids):,} queries, k = {K}; chance 1/6 = 0.167")
        print(
            f"  keywords (local/keywords): {report.entry.label_accuracy:.3f} on "
            f"{report.entry.label_accuracy_queries} held-out queries, summary run "
            f"{seconds:.1f} s"
        )
        for name, labels in (("oracle intent names", oracle), ("central query only", exemplar)):
            result = score(labels)
            print(f"  {name}: {result.accuracy:.3f} on {result.queries} held-out queries")
        for cluster_id in view.cluster_ids[:8]:
            row = report.titles[cluster_id]
            print(
                f"    cluster {cluster_id} ({row.size}): {row.title}  "
                f"[intent: {oracle[cluster_id]}]"
            )


if __name__ == "__main__":
    main()
