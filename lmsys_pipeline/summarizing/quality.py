"""Label quality: can a cluster's label be told apart from its nearest siblings' labels?

For each labelled cluster, a seeded sample of member queries the labeller never saw is embedded
(their stored vectors) and matched by cosine against the embedded labels (title + description)
of the cluster and of its ``siblings`` nearest clusters by centroid. Top-1 accuracy over all
sampled queries is the summary run's score: 1.0 means every query picks its own cluster's
label; chance is 1 / (siblings + 1).
"""

from dataclasses import dataclass

import numpy as np

from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.labeling.measures import label_measures, sampled_members
from lmsys_pipeline.summarizing.selection import RunView


@dataclass(frozen=True)
class LabelQuality:
    accuracy: float | None
    queries: int
    clusters: int
    chance: float


def label_quality(
    view: RunView,
    labels: dict[int, str],
    shown: dict[int, list[int]],
    embedder: Embedder,
    *,
    per_cluster: int,
    siblings: int,
    seed: int,
) -> LabelQuality:
    """``labels``: cluster id → label text; ``shown``: cluster id → query ids the labeller saw."""
    labelled = sorted(c for c in labels if c in view.members and c >= 0)
    if per_cluster <= 0 or len(labelled) < 2:
        return LabelQuality(None, 0, 0, 1.0)
    label_vectors = embedder.embed([labels[c] for c in labelled])
    row_of = {c: i for i, c in enumerate(labelled)}
    correct = total = scored_clusters = 0
    for cluster_id in labelled:
        rivals = [
            c for c in view.nearest_clusters(cluster_id, len(view.cluster_ids)) if c in row_of
        ][:siblings]
        if not rivals:
            continue
        members = view.members[cluster_id]
        unseen = members[~np.isin(view.query_ids[members], shown.get(cluster_id, []))]
        if not len(unseen):
            continue
        rng = np.random.default_rng([seed, cluster_id + 1, 7])
        picked = rng.choice(unseen, size=min(per_cluster, len(unseen)), replace=False)
        candidates = label_vectors[[row_of[cluster_id], *(row_of[c] for c in rivals)]]
        scores = view.vectors[view.rows[picked]] @ candidates.T
        correct += int(np.sum(np.argmax(scores, axis=1) == 0))
        total += len(picked)
        scored_clusters += 1
    accuracy = round(correct / total, 4) if total else None
    return LabelQuality(accuracy, total, scored_clusters, round(1 / (siblings + 1), 4))


def summary_measures(
    view: RunView,
    titles: dict[int, str],
    embedder: Embedder,
    *,
    per_cluster: int,
    siblings: int,
    seed: int,
) -> dict[str, float | int | None]:
    """Member fit, sibling overlap (each cluster with its ``siblings`` nearest clusters) and
    duplicate titles of a run's titles (labeling/measures.py); noise left out."""
    real = {c: t for c, t in titles.items() if c in view.members and c >= 0}
    rows = {c: view.rows[view.members[c]] for c in real}
    members = sampled_members(view.vectors, rows, per_cluster, seed)
    pairs = {
        (min(c, n), max(c, n))
        for c in real
        for n in view.nearest_clusters(c, siblings)
        if n in real
    }
    return label_measures(real, members, sorted(pairs), embedder)
