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
PCA_FIT_SAMPLE = 100_000
KMEANS_PP_POINTS_PER_CENTROID = 20
KMEANS_PP_MIN_POINTS = 10_000
# Each initialisation is fitted on at most this many vectors (then all vectors refine the best).
MAX_TRAIN_POINTS = 100_000
# HDBSCAN is fitted on at most this many points; the rest follow their nearest fitted point.
DEFAULT_HDBSCAN_FIT_POINTS = 200_000


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


CHUNK_ROWS = 100_000


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length; vectors that already are (stored embeddings) are not
    copied, which saves 1.5 GB at 1M x 384."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if len(vectors) and np.allclose(norms, 1.0, atol=1e-4):
        return vectors
    return vectors / np.maximum(norms, 1e-12)


def _row_dots(x: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine of each row to its own centroid, in chunks (no n x d temporary)."""
    out = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        out[start:stop] = np.einsum("ij,ij->i", x[start:stop], centroids[labels[start:stop]])
    return out


def _check_varied(vectors: np.ndarray) -> None:
    if len(vectors) == 0:
        raise ClusteringInputError(
            "There are no embedded queries to cluster: run lmsys load and lmsys embed first."
        )
    if np.allclose(vectors, vectors[0], atol=1e-6):
        raise ClusteringInputError(
            "All query vectors are identical, so there is nothing to "
            "cluster: load more varied queries."
        )


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
    """Normalised mean of each cluster's members (noise excluded), via a sparse sum."""
    from scipy.sparse import csr_matrix

    members = np.flatnonzero(labels != NOISE)
    count = int(labels[members].max()) + 1 if len(members) else 0
    if not count:
        return np.zeros((0, vectors.shape[1]), dtype=np.float32)
    membership = csr_matrix(
        (np.ones(len(members), dtype=np.float32), (labels[members], members)),
        shape=(count, len(vectors)),
    )
    sums = np.asarray(membership @ vectors, dtype=np.float64)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def _faiss_kmeans(x: np.ndarray, k: int, init: np.ndarray, iterations: int, seed: int):
    import faiss

    kmeans = faiss.Kmeans(
        x.shape[1],
        k,
        niter=iterations,
        nredo=1,
        seed=seed,
        spherical=True,
        max_points_per_centroid=len(x) + 1,  # use every vector given, no silent subsampling
        min_points_per_centroid=1,
        verbose=False,
    )
    kmeans.train(x, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    return kmeans


def reduce_with_pca(x: np.ndarray, dims: int, seed: int, *, normalize: bool = True) -> np.ndarray:
    """PCA fitted on up to ``PCA_FIT_SAMPLE`` vectors, applied to all; rows re-normalised for
    spherical k-means (``normalize``), left as they are for density clustering, where
    projecting 10-d points onto a sphere merged most of the sample into one cluster."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    fit_on = x if len(x) <= PCA_FIT_SAMPLE else x[rng.choice(len(x), PCA_FIT_SAMPLE, replace=False)]
    pca = PCA(
        n_components=min(dims, x.shape[1], len(fit_on) - 1),
        random_state=seed,
        svd_solver="randomized",
    ).fit(fit_on)
    reduced = np.empty((len(x), pca.n_components_), dtype=np.float32)
    for start in range(0, len(x), CHUNK_ROWS):  # transform centres a copy: keep it small
        reduced[start : start + CHUNK_ROWS] = pca.transform(x[start : start + CHUNK_ROWS])
    return unit_rows(reduced) if normalize else reduced


def fit_kmeans(
    vectors: np.ndarray,
    k: int,
    *,
    n_init: int = 10,
    max_iter: int = 25,
    seed: int = 42,
    train_points_per_centroid: int = 256,
    refine_iter: int = 10,
    reduce_dims: int | None = 128,
) -> ClusterFit:
    """Spherical k-means: PCA, k-means++ seeding, best of ``n_init`` fits, then all vectors.

    Vectors are reduced to ``reduce_dims`` with PCA (None keeps them whole): on Banking77 this
    scored at or above plain k-means on the raw vectors and makes each iteration 3x cheaper.
    Each initialisation is seeded with k-means++ (on up to ``KMEANS_PP_POINTS_PER_CENTROID * k``
    points; random seeding scored 1-3 points lower) and fitted with faiss on up to
    ``train_points_per_centroid * k`` vectors; the best (highest total cosine) is refined with
    ``refine_iter`` Lloyd iterations on every vector, so the final centroids are a full-data
    fit. Confidences are cosines to centroids in the original space.
    """
    from sklearn.cluster import kmeans_plusplus

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
    original = x
    if reduce_dims and reduce_dims < x.shape[1]:
        x = reduce_with_pca(x, reduce_dims, seed)
    reduced = time.perf_counter()
    rng = np.random.default_rng(seed)
    cap = max(k, min(train_points_per_centroid * k, MAX_TRAIN_POINTS))
    subsampled = len(x) > cap
    seeding_points = max(k, KMEANS_PP_POINTS_PER_CENTROID * k, KMEANS_PP_MIN_POINTS)
    best = None
    for attempt in range(n_init):
        sample = x[np.sort(rng.choice(len(x), cap, replace=False))] if subsampled else x
        seeding = (
            sample
            if len(sample) <= seeding_points
            else sample[rng.choice(len(sample), seeding_points, replace=False)]
        )
        init, _ = kmeans_plusplus(seeding, k, random_state=seed + attempt)
        fitted = _faiss_kmeans(sample, k, init, max_iter, seed + attempt)
        if best is None or fitted.obj[-1] > best.obj[-1]:
            best = fitted
    seeded = time.perf_counter()
    if subsampled and refine_iter:
        best = _faiss_kmeans(x, k, best.centroids, refine_iter, seed)
    trained = time.perf_counter()
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(unit_rows(best.centroids))
    _, nearest = index.search(x, 1)
    labels = _renumber_by_size(nearest[:, 0].astype(np.int64))
    assigned = time.perf_counter()
    centroids = _centroids(original, labels)
    confidence = _row_dots(original, centroids, labels)
    return ClusterFit(
        labels=labels,
        confidence=np.clip(confidence, -1.0, 1.0),
        centroids=centroids,
        phase_seconds={
            "reduce": reduced - started,
            "fit_inits": seeded - reduced,
            "fit_all_vectors": trained - seeded,
            "assign": assigned - trained,
        },
        details={
            "objective": float(best.obj[-1]) if len(best.obj) else 0.0,
            "trained_on_sample": int(subsampled),
            "empty_clusters": k - len(np.unique(labels)),
        },
    )


def _hdbscan_model(backend: str, min_cluster_size: int, min_samples: int | None):
    if backend == "fast_hdbscan":
        import fast_hdbscan

        return fast_hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples)
    import hdbscan

    return hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples, core_dist_n_jobs=2
    )


def _nearest_fitted(reduced: np.ndarray, fitted_rows: np.ndarray) -> np.ndarray:
    """For every row, the position (in ``fitted_rows``) of its nearest fitted row."""
    import faiss

    index = faiss.IndexFlatL2(reduced.shape[1])
    index.add(np.ascontiguousarray(reduced[fitted_rows]))
    nearest = np.empty(len(reduced), dtype=np.int64)
    for start in range(0, len(reduced), CHUNK_ROWS):
        _, found = index.search(np.ascontiguousarray(reduced[start : start + CHUNK_ROWS]), 1)
        nearest[start : start + CHUNK_ROWS] = found[:, 0]
    return nearest


def fit_hdbscan(
    vectors: np.ndarray,
    min_cluster_size: int,
    *,
    min_samples: int | None = None,
    reduce_dims: int = 10,
    seed: int = 42,
    assign_noise: bool = False,
    backend: str = "fast_hdbscan",
    max_fit_points: int | None = DEFAULT_HDBSCAN_FIT_POINTS,
) -> ClusterFit:
    """PCA to ``reduce_dims`` (HDBSCAN does not finish on raw 384-d at scale), then HDBSCAN
    with ``backend`` fast_hdbscan (default; 4.8x faster here at 100k points) or the
    hdbscan library.

    Above ``max_fit_points`` vectors, HDBSCAN is fitted on a seeded random sample of that size,
    with ``min_cluster_size`` and ``min_samples`` scaled by the sample fraction so that they
    keep meaning "queries in the whole run"; every other query takes the cluster (and
    membership probability) of its nearest fitted query in the reduced space, noise included.
    """
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
    reduced = reduce_with_pca(x, reduce_dims, seed, normalize=False)
    dims = reduced.shape[1]
    reduced_at = time.perf_counter()
    sampled = max_fit_points is not None and len(reduced) > max_fit_points
    if sampled:
        rng = np.random.default_rng(seed)
        fitted_rows = np.sort(rng.choice(len(reduced), int(max_fit_points), replace=False))
        fraction = len(fitted_rows) / len(reduced)
        model = _hdbscan_model(
            backend,
            max(2, round(min_cluster_size * fraction)),
            None if min_samples is None else max(1, round(min_samples * fraction)),
        )
        model.fit(reduced[fitted_rows])
        nearest = _nearest_fitted(reduced, fitted_rows)
        raw_labels = model.labels_.astype(np.int64)[nearest]
        probabilities = model.probabilities_[nearest]
    else:
        model = _hdbscan_model(backend, min_cluster_size, min_samples)
        model.fit(reduced)
        raw_labels, probabilities = model.labels_.astype(np.int64), model.probabilities_
    fitted = time.perf_counter()
    labels = _renumber_by_size(raw_labels)
    confidence = np.where(labels == NOISE, 0.0, probabilities).astype(np.float32)
    centroids = _centroids(x, labels)
    noise = labels == NOISE
    reassigned = 0
    if assign_noise and noise.any() and len(centroids):
        labels = labels.copy()
        noise_rows = np.flatnonzero(noise)
        for start in range(0, len(noise_rows), CHUNK_ROWS):
            chunk = noise_rows[start : start + CHUNK_ROWS]
            labels[chunk] = np.argmax(x[chunk] @ centroids.T, axis=1)
        reassigned = int(noise.sum())
    return ClusterFit(
        labels=labels,
        confidence=np.clip(confidence, 0.0, 1.0),
        centroids=centroids,
        phase_seconds={
            "reduce": reduced_at - started,
            "fit": fitted - reduced_at,
            "assign": time.perf_counter() - fitted,
        },
        details={
            "reduced_dims": dims,
            "noise_reassigned": reassigned,
            "fitted_on_sample": int(sampled),
        },
    )
