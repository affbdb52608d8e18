"""The offline baseline: size-aware agglomerative grouping, parents named by keyphrases.

Each node is described by three things side by side: its centroid (the unit mean of its
queries' vectors), its keyword profile (class-based TF-IDF over its representative queries) and
its membership profile (how its queries spread over all the run's clusters, by a softmax of
their cosines to every centroid), weighted 0.5 / 0.2 / 0.3 by default (``keyword_weight``,
``profile_weight``). On HWU64 the membership profile adds about a point of NMI over the
centroid alone, the keywords little (benchmarks/RESULTS.md); they are there for clusters that
share topic words in different phrasings. Nodes are merged by Ward's criterion with each node
weighted by the square root of its size, so large clusters pull their neighbours in without
swallowing everything (plain Ward weighs every cluster alike; weighting by the size itself
let the largest clusters absorb whole topics on some HWU64 runs). Merging stops at
the level's target. A node still alone then (far from every other) gets no parent: it is kept
at its level as an orphan, as the LLM algorithm keeps a cluster no parent fits, so every
parent has at least two children and the level holds one parent fewer than asked per orphan.
Parents are named as the keyphrase summarizer names clusters (labeling/keyphrases.py): from
their children's queries, each phrase scored by its closeness to the parent's centroid against
the nearest sibling parents' and, more than for a cluster, by how many of the queries hold it
(``PARENT_COVERAGE``), no two siblings with the same title and none with a child's.
No LLM, no network: the run's embedding model scores the phrases.
"""

from dataclasses import dataclass

import numpy as np

from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.hierarchy.tree import Grouping, Node
from lmsys_pipeline.labeling.keyphrases import PARENT_COVERAGE, rank_keyphrases
from lmsys_pipeline.labeling.phrases import PARENT_MAX_WORDS
from lmsys_pipeline.labeling.tfidf import class_tfidf
from lmsys_pipeline.summarizing.keyphrase import describe_parent
from lmsys_pipeline.summarizing.selection import RunView

PROFILE_TEMPERATURE = 0.05
PROFILE_MEMBERS = 200  # members per cluster behind its membership profile (seeded sample)


def ward_groups(gram: np.ndarray, weights: np.ndarray, groups: int) -> np.ndarray:
    """Weighted Ward agglomeration down to ``groups``, from the rows' inner products
    (``gram``); returns each row's group, 0..groups-1 numbered by first member.

    Only inner products of group means are kept (merging two groups updates one row of them),
    and each group remembers its cheapest partner, so a merge recomputes only the groups that
    pointed at the merged pair: about a second for 1,000 clusters."""
    n = len(gram)
    inner = gram.astype(np.float64).copy()  # inner[a, b] = mean_a . mean_b
    weights = weights.astype(np.float64).copy()
    alive = np.ones(n, dtype=bool)
    owner = np.arange(n)
    best = np.full(n, np.inf)
    partner = np.zeros(n, dtype=np.int64)

    def cost(i: int) -> np.ndarray:
        squared = np.maximum(inner[i, i] + np.diagonal(inner) - 2 * inner[i], 0.0)
        found = weights[i] * weights / (weights[i] + weights) * squared
        found[~alive] = np.inf
        found[i] = np.inf
        return found

    def refresh(i: int) -> None:
        found = cost(i)
        partner[i] = int(np.argmin(found))
        best[i] = found[partner[i]]

    for i in range(n):
        refresh(i)
    for _ in range(n - max(1, groups)):
        i = int(np.argmin(np.where(alive, best, np.inf)))
        j = int(partner[i])
        wi, wj = weights[i], weights[j]
        total = wi + wj
        row = (wi * inner[i] + wj * inner[j]) / total
        row[i] = (wi * wi * inner[i, i] + 2 * wi * wj * inner[i, j] + wj * wj * inner[j, j]) / (
            total * total
        )
        inner[i], inner[:, i] = row, row
        weights[i] = total
        alive[j] = False
        owner[owner == j] = i
        best[j] = np.inf
        for k in np.flatnonzero(alive & ((partner == i) | (partner == j))):
            refresh(int(k))
        refresh(i)
        # Ward's cost to a merged group is never below both old costs, so the other groups
        # keep their partner; checked anyway, it costs one pass
        found = cost(i)
        cheaper = alive & (found < best)
        best[cheaper] = found[cheaper]
        partner[cheaper] = i
    _, labels = np.unique(owner, return_inverse=True)
    return labels


@dataclass
class Features:
    """What the baseline knows of a node: its centroid (unit), its membership profile (how its
    queries spread over the run's clusters: a distribution) and its representative queries."""

    centroid: np.ndarray
    profile: np.ndarray
    documents: list[str]


def membership_profiles(view: RunView, cluster_ids: list[int], seed: int) -> np.ndarray:
    """Row i: the mean over (up to ``PROFILE_MEMBERS`` seeded) members of cluster i of the
    softmax, at ``PROFILE_TEMPERATURE``, of their cosines to every cluster's centroid. Two
    clusters whose queries lean towards the same neighbours get similar rows, which a centroid
    alone does not tell."""
    rng = np.random.default_rng(seed)
    centroids = view.centroids[cluster_ids]
    rows = []
    for cluster in cluster_ids:
        members = view.members[cluster]
        if len(members) > PROFILE_MEMBERS:
            members = np.sort(rng.choice(members, PROFILE_MEMBERS, replace=False))
        cosines = view.vectors[view.rows[members]] @ centroids.T
        weights = np.exp((cosines - cosines.max(axis=1, keepdims=True)) / PROFILE_TEMPERATURE)
        rows.append((weights / weights.sum(axis=1, keepdims=True)).mean(axis=0))
    return np.array(rows, dtype=np.float64)


def merged(children: list[Features], sizes: list[int]) -> Features:
    """A parent's features from its children's (given largest first): size-weighted centroid
    and profile, queries taken in turn."""
    weights = np.asarray(sizes, dtype=np.float64)[:, None]
    total = (weights * np.array([c.centroid for c in children])).sum(axis=0)
    profile = (weights * np.array([c.profile for c in children])).sum(axis=0) / weights.sum()
    return Features(
        total / max(np.linalg.norm(total), 1e-12),
        profile,
        interleaved([c.documents for c in children]),
    )


def node_gram(features: list[Features], keyword_weight: float, profile_weight: float):
    """Inner products of the nodes' descriptions: centroid, keyword profile (class-based
    TF-IDF of their queries) and square-rooted membership profile side by side, each a unit
    row, weighted ``1 - keyword_weight - profile_weight``, ``keyword_weight``,
    ``profile_weight``."""
    from sklearn.preprocessing import normalize

    documents = [f.documents for f in features]
    texts = [text for docs in documents for text in docs]
    classes = np.repeat(np.arange(len(documents)), [len(d) for d in documents])
    scores, _ = class_tfidf(texts, classes, len(documents))
    centroids = np.array([f.centroid for f in features], dtype=np.float64)
    profiles = normalize(np.sqrt(np.array([f.profile for f in features])))
    gram = (1.0 - keyword_weight - profile_weight) * (centroids @ centroids.T)
    gram += profile_weight * (profiles @ profiles.T)
    if scores.shape[1]:
        keywords = normalize(scores)
        gram += keyword_weight * (keywords @ keywords.T).toarray()
    return gram


def interleaved(documents: list[list[str]]) -> list[str]:
    """The children's queries taken in turn (the order given: largest child first)."""
    merged: list[str] = []
    for position in range(max((len(d) for d in documents), default=0)):
        merged += [d[position] for d in documents if position < len(d)]
    return merged


def offline_level(
    children: list[Node],
    features: list[Features],
    target: int,
    keyword_weight: float,
    profile_weight: float,
    embedder: Embedder,
) -> Grouping:
    """Groups ``children`` (described by ``features``) into at most ``target`` parents named
    by keyphrases; a child left alone is an orphan."""
    gram = node_gram(features, keyword_weight, profile_weight)
    sizes = np.array([c.size for c in children], dtype=np.float64)
    labels = ward_groups(gram, np.sqrt(sizes), target)
    groups = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
    orphans = [children[int(m[0])].node_id for m in groups if len(m) == 1]
    members = [m[np.argsort(-sizes[m], kind="stable")] for m in groups if len(m) > 1]
    texts = {g: interleaved([features[i].documents for i in m]) for g, m in enumerate(members)}
    centroids = {
        g: merged([features[i] for i in m], sizes[m].tolist()).centroid
        for g, m in enumerate(members)
    }
    titles = {g: [children[i].title for i in m] for g, m in enumerate(members)}
    found = (
        rank_keyphrases(
            texts,
            centroids,
            embedder,
            avoid=titles,
            max_words=PARENT_MAX_WORDS,
            coverage_weight=PARENT_COVERAGE,
        )
        if members
        else {}
    )
    parents = []
    for g, m in enumerate(members):
        label = describe_parent(int(sizes[m].sum()), found[g], titles[g])
        parents.append((label.title, label.description, [children[i].node_id for i in m]))
    return Grouping(parents, orphans)
