"""KMeans and HDBSCAN on embedding vectors: arrays in, labels and confidences out.

Cluster ids are renumbered by size (0 is the largest) so that runs read the same way; HDBSCAN
noise keeps ``-1``.

``confidence_score`` means:
- KMeans: cosine similarity of the (L2-normalised) query vector to its own centroid, in [-1, 1]
  (in practice 0..1; higher is more central).
- HDBSCAN: the membership probability HDBSCAN assigns, in [0, 1]; 0 for noise, and for noise
  points moved to the nearest cluster when ``assign_noise`` is on.
"""

import time
from dataclasses import dataclass, field

import numpy as np

NOISE = -1


class ClusteringInputError(ValueError):
    """Data or settings that cannot be clustered, explained in one sentence."""


@dataclass
class ClusterFit:
    labels: np.ndarray
    confidence: np.ndarray
    centroids: np.ndarray
    phase_seconds: dict[str, float] = field(default_factory=dict)
    details: dict[str, float | int] = field(default_factory=dict)

    @property
    def num_clusters(self) -> int:
        return len(np.unique(self.labels[self.labels != NOISE]))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _check_varied(vectors: np.ndarray) -> None:
    if len(vectors) == 0:
        raise ClusteringInputError("There are no embedded queries to cluster: run "
                                   "lmsys load and lmsys embed first.")
    if np.allclose(vectors, vectors[0], atol=1e-6):
        raise ClusteringInputError("All query vectors are identical, so there is nothing to "
                                   "cluster: load more varied queries.")


def _renumber_by_size(labels: np.ndarray) -> np.ndarray:
    real = labels[labels != NOISE]
    ids, counts = np.unique(real, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    mapping = np.full(int(labels.max()) + 1 if len(real) else 1, NOISE, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    renumbered = np.full(len(labels), NOISE, dtype=np.int64)
    renumbered[labels != NOISE] = mapping[real]
    return renumbered


def _centroids(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    count = int(labels.max()) + 1 if (labels != NOISE).any() else 0
    sums = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, labels[labels != NOISE], vectors[labels != NOISE])
    return unit_rows(sums)


def fit_kmeans(vectors: np.ndarray, k: int, *, n_init: int = 3, max_iter: int = 25,
               seed: int = 42) -> ClusterFit:
    """Spherical k-means (faiss) on all vectors, best of ``n_init`` initialisations."""
    import faiss

    if k < 1:
        raise ClusteringInputError("KMeans needs at least one cluster (--n-clusters >= 1).")
    x = unit_rows(vectors)
    _check_varied(x)
    if len(x) < k:
        raise ClusteringInputError(
            f"There are {len(x)} embedded queries, fewer than the {k} clusters asked for: "
            "lower --n-clusters or load more queries."
        )
    started = time.perf_counter()
    kmeans = faiss.Kmeans(
        x.shape[1], k, niter=max_iter, nredo=n_init, seed=seed, spherical=True,
        max_points_per_centroid=int(np.ceil(len(x) / k)) + 1,  # train on every vector
        min_points_per_centroid=1, verbose=False,
    )
    kmeans.train(x)
    trained = time.perf_counter()
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(unit_rows(kmeans.centroids))
    _, nearest = index.search(x, 1)
    labels = _renumber_by_size(nearest[:, 0].astype(np.int64))
    assigned = time.perf_counter()
    centroids = _centroids(x, labels)
    confidence = np.einsum("ij,ij->i", x, centroids[labels]).astype(np.float32)
    return ClusterFit(
        labels=labels,
        confidence=np.clip(confidence, -1.0, 1.0),
        centroids=centroids,
        phase_seconds={"fit": trained - started, "assign": assigned - trained},
        details={"objective": float(kmeans.obj[-1]) if len(kmeans.obj) else 0.0,
                 "empty_clusters": k - len(np.unique(labels))},
    )


def fit_hdbscan(vectors: np.ndarray, min_cluster_size: int, *, min_samples: int | None = None,
                reduce_dims: int = 10, seed: int = 42, assign_noise: bool = False) -> ClusterFit:
    """PCA to ``reduce_dims`` (HDBSCAN does not finish on raw 384-d at scale), then HDBSCAN."""
    import hdbscan
    from sklearn.decomposition import PCA

    x = unit_rows(vectors)
    _check_varied(x)
    if min_cluster_size < 2:
        raise ClusteringInputError("HDBSCAN needs --min-cluster-size of at least 2.")
    if min_cluster_size > len(x):
        raise ClusteringInputError(
            f"--min-cluster-size {min_cluster_size} is larger than the {len(x)} embedded "
            "queries: lower it or load more queries."
        )
    started = time.perf_counter()
    dims = min(reduce_dims, x.shape[1], len(x) - 1)
    reduced = PCA(n_components=dims, random_state=seed,
                  svd_solver="randomized").fit_transform(x)
    reduced_at = time.perf_counter()
    model = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                            core_dist_n_jobs=2)
    model.fit(reduced)
    fitted = time.perf_counter()
    labels = _renumber_by_size(model.labels_.astype(np.int64))
    confidence = np.where(labels == NOISE, 0.0, model.probabilities_).astype(np.float32)
    centroids = _centroids(x, labels)
    noise = labels == NOISE
    reassigned = 0
    if assign_noise and noise.any() and len(centroids):
        labels = labels.copy()
        labels[noise] = np.argmax(x[noise] @ centroids.T, axis=1)
        reassigned = int(noise.sum())
    return ClusterFit(
        labels=labels,
        confidence=np.clip(confidence, 0.0, 1.0),
        centroids=centroids,
        phase_seconds={"reduce": reduced_at - started, "fit": fitted - reduced_at,
                       "assign": time.perf_counter() - fitted},
        details={"reduced_dims": dims, "noise_reassigned": reassigned},
    )
