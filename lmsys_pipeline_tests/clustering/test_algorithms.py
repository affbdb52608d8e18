import numpy as np
import pytest

from lmsys_pipeline.clustering.algorithms import (
    NOISE,
    ClusteringInputError,
    fit_hdbscan,
    fit_kmeans,
)


def blobs(n_per: int = 100, centers: int = 5, noise: int = 0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middles = rng.standard_normal((centers, 32)) * 3
    points = np.concatenate([m + rng.standard_normal((n_per, 32)) * 0.3 for m in middles])
    if noise:
        points = np.concatenate([points, rng.standard_normal((noise, 32)) * 3])
    return points


def test_kmeans_finds_the_blobs_with_central_confidence():
    fit = fit_kmeans(blobs(), 5, seed=1)
    assert fit.num_clusters == 5
    assert sorted(np.bincount(fit.labels)) == [100] * 5
    assert fit.confidence.shape == (500,) and np.all(fit.confidence > 0.5)
    assert np.all(fit.confidence <= 1.0)


def test_kmeans_is_reproducible_and_numbers_clusters_by_size():
    x = blobs(n_per=60, centers=8, seed=3)
    first, second = fit_kmeans(x, 6, seed=7), fit_kmeans(x, 6, seed=7)
    np.testing.assert_array_equal(first.labels, second.labels)
    counts = np.bincount(first.labels)
    assert list(counts) == sorted(counts, reverse=True)


def test_hdbscan_stores_noise_as_minus_one_with_zero_confidence():
    fit = fit_hdbscan(blobs(noise=60), 20, seed=1)
    noise = fit.labels == NOISE
    assert fit.num_clusters == 5 and noise.any()
    assert np.all(fit.confidence[noise] == 0.0)
    assert np.all((fit.confidence >= 0) & (fit.confidence <= 1))
    moved = fit_hdbscan(blobs(noise=60), 20, seed=1, assign_noise=True)
    assert not (moved.labels == NOISE).any() and moved.details["noise_reassigned"] == noise.sum()


def test_hdbscan_on_a_sample_labels_every_point_like_the_full_fit():
    x = blobs(noise=60)
    full = fit_hdbscan(x, 20, seed=1)
    sampled = fit_hdbscan(x, 20, seed=1, max_fit_points=280)
    assert sampled.details["fitted_on_sample"] == 1 and full.details["fitted_on_sample"] == 0
    assert len(sampled.labels) == len(x) and sampled.num_clusters == 5
    members = (full.labels != NOISE) & (sampled.labels != NOISE)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(full.labels[members], sampled.labels[members]) > 0.95
    assert np.all((sampled.confidence >= 0) & (sampled.confidence <= 1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fit_kmeans(blobs()[:3], 5), "fewer than the 5 clusters"),
        (lambda: fit_kmeans(np.empty((0, 32)), 2), "no embedded queries"),
        (lambda: fit_kmeans(np.ones((50, 32)), 2), "identical"),
        (lambda: fit_kmeans(blobs(), 0), "at least one cluster"),
        (lambda: fit_hdbscan(blobs()[:10], 50), "larger than the 10"),
        (lambda: fit_hdbscan(np.ones((50, 32)), 5), "identical"),
    ],
)
def test_impossible_inputs_fail_with_one_sentence(call, message):
    with pytest.raises(ClusteringInputError, match=message):
        call()


def test_hdbscan_clusters_unnormalised_pca_output(monkeypatch):
    """Re-normalising the 10-d PCA output merged 15,150 of the 16,645 sample queries into one
    cluster (make demo, min size 25); density clustering must see the projection as it is."""
    from lmsys_pipeline.clustering import algorithms

    seen = []
    original = algorithms.reduce_with_pca

    def spy(x, dims, seed, *, normalize=True):
        reduced = original(x, dims, seed, normalize=normalize)
        seen.append(reduced)
        return reduced

    monkeypatch.setattr(algorithms, "reduce_with_pca", spy)
    fit_hdbscan(blobs(), 20, seed=1)
    norms = np.linalg.norm(seen[0], axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    assert np.allclose(np.linalg.norm(fit_kmeans_reduced(), axis=1), 1.0, atol=1e-4)


def fit_kmeans_reduced() -> np.ndarray:
    from lmsys_pipeline.clustering.algorithms import reduce_with_pca, unit_rows

    return reduce_with_pca(unit_rows(blobs()), 10, 0)
