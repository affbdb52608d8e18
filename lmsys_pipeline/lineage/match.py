"""Matching the clusters of two clustering runs: plain arrays in, relations out.

Two clusters are *linked* when their member sets overlap: the Jaccard index of the two sets of
query ids, shared over union. The intersection counts queries both runs assigned; a query
only the later run saw (it arrived after the earlier run's snapshot) is in ``b`` and in no
``a``, so a cluster of new queries has a small index with everything before it. Each link
also carries the cosine of the two centroids (same embedding model, so the same space).

Kinds, from the links whose index is at least ``Thresholds.link`` (one cluster can have
several):

- ``continues``: one link on each side (``a`` goes only to ``b``, ``b`` comes only from ``a``);
- ``split``: ``a`` links to two or more clusters (one row per piece);
- ``merged``: ``b`` links from two or more clusters (one row per part; takes precedence
  when both sides have several);
- ``new``: ``b`` has no link (its row has no ``from`` cluster; ``cosine`` is that of the
  nearest earlier centroid) — unless that nearest earlier cluster has no link either and the
  centroids are at least ``Thresholds.centroid`` alike: then ``b`` *continues* it, matched by
  centroid (runs over data that hardly overlaps still line up);
- ``gone``: ``a`` has no link and was not matched by centroid (no ``to`` cluster).

Noise (labels below zero) belongs to no cluster and takes part in no index.
"""

from dataclasses import asdict, dataclass

import numpy as np

CONTINUES, SPLIT, MERGED, NEW, GONE = "continues", "split", "merged", "new", "gone"
KINDS = (CONTINUES, SPLIT, MERGED, NEW, GONE)


@dataclass(frozen=True)
class Thresholds:
    """Where a link starts. Measured on the bundled sample (benchmarks/lineage_thresholds.py,
    RESULTS.md): see the README's "Keeping it current"."""

    link: float = 0.2
    centroid: float = 0.9


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Partition:
    """One run's clusters: ``labels[i]`` is query ``query_ids[i]``'s cluster (ascending ids),
    ``centroids[c]`` cluster ``c``'s unit centroid."""

    query_ids: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray

    def sizes(self) -> dict[int, int]:
        ids, counts = np.unique(self.labels[self.labels >= 0], return_counts=True)
        return {int(i): int(n) for i, n in zip(ids, counts, strict=True)}


@dataclass(frozen=True)
class Relation:
    from_cluster_id: int | None
    to_cluster_id: int | None
    kind: str
    overlap: float
    cosine: float | None
    shared_queries: int
    from_size: int
    to_size: int

    def as_dict(self) -> dict:
        return asdict(self)


def shared_counts(before: Partition, after: Partition) -> dict[tuple[int, int], int]:
    """``(a, b) → |a ∩ b|`` for every pair of clusters that share a query."""
    _, left, right = np.intersect1d(
        before.query_ids, after.query_ids, assume_unique=True, return_indices=True
    )
    a, b = before.labels[left], after.labels[right]
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    if not len(a):
        return {}
    width = int(b.max()) + 1
    keys, counts = np.unique(a * width + b, return_counts=True)
    return {(int(k // width), int(k % width)): int(n) for k, n in zip(keys, counts, strict=True)}


def overlaps(before: Partition, after: Partition) -> dict[tuple[int, int], tuple[float, int]]:
    """``(a, b) → (Jaccard index, shared queries)`` for every pair that shares a query."""
    size_a, size_b = before.sizes(), after.sizes()
    return {
        (a, b): (shared / (size_a[a] + size_b[b] - shared), shared)
        for (a, b), shared in shared_counts(before, after).items()
    }


def match_runs(
    before: Partition, after: Partition, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Relation]:
    """Every relation between the clusters of ``before`` and ``after``, as described above."""
    size_a, size_b = before.sizes(), after.sizes()
    pairs = overlaps(before, after)
    links = {key: value for key, value in pairs.items() if value[0] >= thresholds.link}
    out_degree = dict.fromkeys(size_a, 0)
    in_degree = dict.fromkeys(size_b, 0)
    for a, b in links:
        out_degree[a] += 1
        in_degree[b] += 1
    relations = []
    for (a, b), (overlap, shared) in sorted(links.items()):
        kind = MERGED if in_degree[b] > 1 else SPLIT if out_degree[a] > 1 else CONTINUES
        cosine = float(before.centroids[a] @ after.centroids[b])
        relations.append(Relation(a, b, kind, overlap, cosine, shared, size_a[a], size_b[b]))
    unlinked = {a for a, degree in out_degree.items() if not degree}
    for b in sorted(c for c, degree in in_degree.items() if not degree):
        nearest, cosine = _nearest(before.centroids, after.centroids[b], list(size_a))
        overlap, shared = pairs.get((nearest, b), (0.0, 0))
        if nearest in unlinked and cosine >= thresholds.centroid:
            unlinked.discard(nearest)
            relations.append(
                Relation(nearest, b, CONTINUES, overlap, cosine, shared, size_a[nearest], size_b[b])
            )
            continue
        overlap, shared = max((v for (_, y), v in pairs.items() if y == b), default=(0.0, 0))
        relations.append(Relation(None, b, NEW, overlap, cosine, shared, 0, size_b[b]))
    for a in sorted(unlinked):
        _, cosine = _nearest(after.centroids, before.centroids[a], list(size_b))
        overlap, shared = max((v for (x, _), v in pairs.items() if x == a), default=(0.0, 0))
        relations.append(Relation(a, None, GONE, overlap, cosine, shared, size_a[a], 0))
    return relations


def _nearest(
    centroids: np.ndarray, target: np.ndarray, candidates: list[int]
) -> tuple[int | None, float | None]:
    """The candidate whose centroid is nearest ``target`` (unit vectors), and the cosine."""
    if not candidates:
        return None, None
    similarity = centroids[candidates] @ target
    best = int(np.argmax(similarity))
    return candidates[best], float(similarity[best])
