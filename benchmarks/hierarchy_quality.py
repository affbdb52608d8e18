"""Hierarchy quality on HWU64: 11,033 utterances, 64 intents under 18 scenarios.

Through the pipeline's own code: the utterances become LMSYS-layout rows, are ingested and
embedded with the default model, clustered by a registered KMeans run (k = 64), summarised
(``prepare_summary`` + ``summarize_run``) and organised by a hierarchy run to 18 parents
(``prepare_hierarchy`` + ``build_hierarchy``, one level). Score: NMI of each query's level-1
parent against its scenario (a cluster left an orphan counts as its own parent); also the base
clusters against the intents. Yardsticks on the same runs, same script: average-linkage and
Ward grouping of the run's 64 centroids into 18 (sklearn, cosine / Euclidean on unit vectors).

Parent names: title → scenario, the share of parents whose title's nearest scenario name (by
cosine of embeddings: "alarm", "calendar", "takeaway", ...) is the scenario most of their
queries have; and the member fit, sibling overlap and duplicate titles the run stores.

Offline (the default): the agglomerative baseline over keyphrase titles. Any OpenAI-compatible
endpoint works the same way; its key comes from the provider's variable (OPENAI_API_KEY ...):

    .venv/bin/python benchmarks/hierarchy_quality.py [--shared ../shared/data] [--seeds 0 1 2]
    .venv/bin/python benchmarks/hierarchy_quality.py --model openai/gpt-4o-mini
    .venv/bin/python benchmarks/hierarchy_quality.py --model vllm/Qwen/Qwen2.5-7B-Instruct \\
        --base-url http://gpu-box:8000/v1 --concurrency 32

With an LLM ``--model``, the summaries are the same model's too (``--summary-model`` sets
another, e.g. local/keywords). ``--db`` keeps the embedded database for the next run.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import normalized_mutual_info_score
from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.labeling.measures import LABEL_MEASURES
from lmsys_pipeline.summarizing.selection import load_run_view
from lmsys_pipeline_tests.support.pipeline_data import build_tree, summarize

CLUSTERS, PARENTS = 64, 18


def nmi(truth, predicted) -> float:
    return 100 * normalized_mutual_info_score(truth, predicted)


def load_hwu64(shared: Path, db: DatabaseManager, workdir: Path, embedder) -> dict[str, tuple]:
    """conversation id → (scenario, intent); ingests and embeds once per database."""
    labels, rows = {}, []
    with open(shared / "hwu64" / "hwu64.jsonl", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            conversation_id = f"hwu64-{index:05d}"
            labels[conversation_id] = (record["scenario"], record["intent"])
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "model": "unknown",
                    "conversation": [{"role": "user", "content": record["text"]}],
                }
            )
    parquet = workdir / "hwu64.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    ingest_batches(db, open_source(str(parquet)).batches(20_000))
    started = time.perf_counter()
    embedded = embed_pending(db, embedder)
    seconds = time.perf_counter() - started
    print(f"embedded {embedded.queries_covered:,} queries in {seconds:.0f} s")
    return labels


def yardsticks(db: DatabaseManager, run_id: str, cluster_of: np.ndarray, scenarios) -> dict:
    from sklearn.cluster import AgglomerativeClustering

    view = load_run_view(db, run_id)
    centroids = view.centroids[:CLUSTERS]
    found = {}
    for name, model in [
        ("average linkage", AgglomerativeClustering(PARENTS, linkage="average", metric="cosine")),
        ("Ward", AgglomerativeClustering(PARENTS, linkage="ward")),
    ]:
        parent = model.fit_predict(centroids)
        found[name] = nmi(scenarios, parent[cluster_of])
    return found


def parent_title_to_scenario(
    tree, parent_of: dict, cluster_of: np.ndarray, scenarios: list[str], embedder
) -> float:
    """Share of the level-1 parents whose title's nearest scenario name is their majority
    scenario (orphans left out)."""
    names = sorted(set(scenarios))
    parents = tree.level(1)
    queries_of = {parent.node_id: Counter() for parent in parents}
    for cluster, scenario in zip(cluster_of.tolist(), scenarios, strict=True):
        if parent_of[cluster] in queries_of:
            queries_of[parent_of[cluster]][scenario] += 1
    titles = np.asarray(embedder.embed([parent.title for parent in parents]))
    nearest = np.argmax(titles @ np.asarray(embedder.embed(names)).T, axis=1)
    hits = [
        names[index] == queries_of[parent.node_id].most_common(1)[0][0]
        for parent, index in zip(parents, nearest, strict=True)
    ]
    return float(np.mean(hits))


def one_seed(db, seed: int, labels: dict, args, embedder) -> dict:
    run = register_run(db, KMeansParams(n_clusters=CLUSTERS, seed=seed))
    materialize_run(db, run.run_id)
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(Query.conversation_id, QueryCluster.cluster_id)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run.run_id)
            .order_by(Query.id)
        ).all()
    cluster_of = np.array([c for _, c in rows])
    scenarios = [labels[conversation][0] for conversation, _ in rows]
    intents = [labels[conversation][1] for conversation, _ in rows]
    server = {
        k: v
        for k, v in {
            "base_url": args.base_url,
            "concurrency": args.concurrency,
            "rpm": args.rpm,
        }.items()
        if v is not None
    }
    started = time.perf_counter()
    summarize(db, run.run_id, "bench", model=args.summary_model, label_quality_queries=0, **server)
    summarised = time.perf_counter() - started
    started = time.perf_counter()
    report = build_tree(db, run.run_id, "bench", model=args.model, levels=1, top=PARENTS, **server)
    built = time.perf_counter() - started
    tree = report.tree
    parent_of = {}
    for node in tree.level(0):
        above = tree.ancestor(node.node_id, 1)
        parent_of[node.node_id] = above.node_id if above else node.node_id
    measures = (report.entry.parameters or {}).get(LABEL_MEASURES) or {}
    return {
        "parent title to scenario": parent_title_to_scenario(
            tree, parent_of, cluster_of, scenarios, embedder
        ),
        "parent measures": measures,
        "parent titles": sorted(parent.title for parent in tree.level(1)),
        "base clusters vs intents": nmi(intents, cluster_of),
        **yardsticks(db, run.run_id, cluster_of, scenarios),
        "hierarchy": nmi(scenarios, [parent_of[c] for c in cluster_of]),
        "parents": len(tree.level(1)),
        "orphans": len(tree.orphans()),
        "requests": report.entry.requests,
        "cost_usd": report.entry.estimated_cost_usd,
        "seconds (summaries, hierarchy)": (round(summarised, 1), round(built, 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default="local/agglomerative")
    parser.add_argument("--summary-model", default=None)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--rpm", type=int, default=None)
    parser.add_argument("--db", type=Path, default=None, help="Keep the database here.")
    args = parser.parse_args()
    if args.summary_model is None:
        args.summary_model = "local/keyphrase" if args.model.startswith("local/") else args.model
    workdir = Path(tempfile.mkdtemp(prefix="lmsys-hwu64-"))
    db = DatabaseManager(args.db or workdir / "hwu64.db")
    embedder = load_embedder()
    labels = load_hwu64(args.shared, db, workdir, embedder)
    results = [one_seed(db, seed, labels, args, embedder) for seed in args.seeds]
    print(
        f"\nHWU64, k = {CLUSTERS} -> {PARENTS} parents; summaries {args.summary_model}, "
        f"hierarchy {args.model}; seeds {args.seeds}"
    )
    keys = ["base clusters vs intents", "average linkage", "Ward", "hierarchy"]
    print("| seed | " + " | ".join(keys) + " | parents | orphans | requests | seconds |")
    print("|---|" + "---:|" * (len(keys) + 4))
    for seed, result in zip(args.seeds, results, strict=True):
        cells = " | ".join(f"{result[k]:.1f}" for k in keys)
        print(
            f"| {seed} | {cells} | {result['parents']} | {result['orphans']} | "
            f"{result['requests']} | {result['seconds (summaries, hierarchy)']} |"
        )
    means = " | ".join(f"**{np.mean([r[k] for r in results]):.1f}**" for k in keys)
    print(f"| mean | {means} | | | | |")
    print("\nParent names (title → scenario; member fit, sibling overlap, duplicate titles):")
    for seed, result in zip(args.seeds, results, strict=True):
        stored = result["parent measures"]
        print(
            f"  seed {seed}: {result['parent title to scenario']:.3f}; "
            f"{stored.get('member_fit')}, {stored.get('sibling_overlap')}, "
            f"{stored.get('duplicate_titles')}: " + " · ".join(result["parent titles"])
        )
    shares = [r["parent title to scenario"] for r in results]
    print(f"  mean title → scenario {np.mean(shares):.3f} ± {np.std(shares):.3f}")


if __name__ == "__main__":
    main()
