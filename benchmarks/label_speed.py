"""Speed of offline titling (local/keyphrase) at 1,000 clusters, beside local/keywords.

A 1M-query run takes too long to build on two cores, so ~1,000 realistic clusters are made
from the labelled sets: Banking77 (k = 77) and HWU64 (k = 64) clustered as in
``label_quality.py`` give 141 real clusters; each is copied until there are ``--clusters``. A
copy takes ``--members`` of its cluster's queries (seeded, with replacement where the cluster
is smaller: the summarizer reads at most 200 member texts of a cluster, ``MEMBER_TEXTS``) and
swaps a seeded 40% of the cluster's 30 most used words for other words of the sets'
vocabulary, so copies use different phrases, as different clusters of a real run do (the
number of distinct phrases to embed is what costs). Member vectors are the stored vectors of
the copied queries with a little seeded noise; centroids are their means.

Timed (wall and CPU seconds of this process): ``rank_keyphrases`` over all clusters as the
summary run calls it (with the members' vectors), the same without them (every shortlisted
phrase embedded: the scoring before issue 25's second pass), and ``keyword_labels`` on 20
queries per cluster (the local/keywords yardstick).

    .venv/bin/python benchmarks/label_speed.py [--cache DIR] [--clusters 1000] [--without 200]
"""

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from label_quality import clustered

from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.labeling.keyphrases import rank_keyphrases
from lmsys_pipeline.labeling.phrases import stop_words
from lmsys_pipeline.summarizing.keywords import keyword_labels
from lmsys_pipeline.summarizing.selection import ClusterBrief, fetch_texts, load_run_view

WORD = re.compile(r"[a-z]{4,}")
SWAPPED_SHARE = 0.4
TOP_WORDS = 30
BRIEF_QUERIES = 20


def base_clusters(shared: Path, cache: Path, embedder) -> list[tuple[list[str], np.ndarray]]:
    """The real clusters of both labelled sets: (member texts, member unit vectors)."""
    found = []
    for name in ("banking77", "hwu64"):
        db, run_id, _ = clustered(name, shared, cache, embedder)
        view = load_run_view(db, run_id)
        texts = fetch_texts(db, view.query_ids)
        for cluster_id in view.cluster_ids:
            members = view.members[cluster_id]
            found.append(
                ([texts[int(q)] for q in view.query_ids[members]], view.vectors[view.rows[members]])
            )
    return found


def synthetic_clusters(base, count: int, members: int, seed: int):
    """``count`` clusters copied from ``base`` (see the module docstring): texts, vectors,
    centroids, keyed 0..count-1."""
    stops = stop_words()
    vocabulary = sorted(
        {w for texts, _ in base for t in texts for w in WORD.findall(t.lower())} - stops
    )
    texts, vectors, centroids = {}, {}, {}
    for key in range(count):
        rng = np.random.default_rng([seed, key])
        own_texts, own_vectors = base[key % len(base)]
        picked = rng.choice(len(own_texts), members, replace=len(own_texts) < members)
        chosen = [own_texts[i].lower() for i in picked]
        if key >= len(base):
            words = (w for t in chosen for w in sorted(set(WORD.findall(t))))
            used = Counter(w for w in words if w not in stops)
            top = [w for w, _ in used.most_common(TOP_WORDS)]
            swapped = rng.choice(top, int(len(top) * SWAPPED_SHARE), replace=False) if top else []
            swap = {w: str(rng.choice(vocabulary)) for w in swapped}
            chosen = [WORD.sub(lambda m, s=swap: s.get(m.group(), m.group()), t) for t in chosen]
        noisy = own_vectors[picked] + rng.normal(0, 0.01, (members, own_vectors.shape[1]))
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        texts[key], vectors[key] = chosen, noisy.astype(np.float32)
        centroids[key] = vectors[key].mean(axis=0)
    return texts, vectors, centroids


class CountingEmbedder:
    """The embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder):
        self.inner, self.name, self.texts, self.cpu = embedder, embedder.name, 0, 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        started = time.process_time()
        vectors = self.inner.embed(texts)
        self.cpu += time.process_time() - started
        return vectors


def timed(label: str, clusters: int, call) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    detail = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"titling": label, "clusters": clusters, "wall": wall, "cpu": cpu, **detail}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=None, help="Keep the databases here.")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument(
        "--without", type=int, default=200, help="Clusters titled without member vectors."
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    embedder = load_embedder()
    embedder.embed(["warm up the model"])
    workdir = args.cache or Path(tempfile.mkdtemp(prefix="lmsys-labels-"))
    workdir.mkdir(parents=True, exist_ok=True)
    base = base_clusters(args.shared, workdir, embedder)
    texts, vectors, centroids = synthetic_clusters(base, args.clusters, args.members, args.seed)
    results = []

    def keyphrase(keys: list[int], with_vectors: bool) -> dict:
        counting = CountingEmbedder(embedder)
        found = rank_keyphrases(
            {k: texts[k] for k in keys},
            {k: centroids[k] for k in keys},
            counting,
            text_vectors={k: vectors[k] for k in keys} if with_vectors else None,
        )
        return {
            "phrases embedded": counting.texts,
            "embed cpu": counting.cpu,
            "titled": sum(v is not None for v in found.values()),
        }

    every = list(range(args.clusters))
    results.append(timed("local/keyphrase", args.clusters, lambda: keyphrase(every, True)))
    if args.without:
        some = every[: args.without]
        label = "local/keyphrase without member vectors (before)"
        results.append(timed(label, len(some), lambda: keyphrase(some, False)))
    briefs = {
        k: ClusterBrief(k, args.members, texts[k][:BRIEF_QUERIES], list(range(BRIEF_QUERIES)))
        for k in every
    }
    results.append(
        timed(
            "local/keywords (yardstick)",
            args.clusters,
            lambda: {"titled": len(keyword_labels(briefs, every))},
        )
    )
    print(f"\n{len(base)} real clusters copied to {args.clusters}, {args.members} members each")
    print("| titling | clusters | phrases embedded | wall s | CPU s | of which embedding |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['titling']} | {row['clusters']:,} | {row.get('phrases embedded', '-')} | "
            f"{row['wall']:.1f} | {row['cpu']:.1f} | {row.get('embed cpu', 0):.1f} |"
        )


if __name__ == "__main__":
    main()
