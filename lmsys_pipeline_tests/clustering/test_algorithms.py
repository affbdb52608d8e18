import numpy as np
import pytest

from lmsys_pipeline.clustering.fit import ClusteringInputError
from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline_tests.support.vectors import blobs


def kmeans(x: np.ndarray, k: int, **fields):
    return fit_clustering(x, KMeansParams(n_clusters=k, **fields))


def hdbscan(x: np.ndarray, min_cluster_size: int, **fields):
    return fit_clustering(x, HDBSCANParams(min_cluster_size=min_cluster_size, **fields))


def test_kmeans_finds_the_blobs_with_central_confidence():
    fit = kmeans(blobs(), 5, seed=1)
    assert fit.num_clusters == 5
    assert sorted(np.bincount(fit.labels)) == [100] * 5
    assert fit.confidence.shape == (500,) and np.all(fit.confidence > 0.5)
    assert np.all(fit.confidence <= 1.0)


def test_kmeans_is_reproducible_and_numbers_clusters_by_size():
    x = blobs(n_per=60, centers=8, seed=3)
    first, second = kmeans(x, 6, seed=7), kmeans(x, 6, seed=7)
    np.testing.assert_array_equal(first.labels, second.labels)
    counts = np.bincount(first.labels)
    assert list(counts) == sorted(counts, reverse=True)


def test_hdbscan_stores_noise_as_minus_one_with_zero_confidence():
    """On PCA: UMAP (min_dist 0) packs Gaussian background noise into clumps of its own."""
    fit = hdbscan(blobs(noise=60), 20, seed=1, reduction="pca")
    noise = fit.labels == NOISE
    assert fit.num_clusters == 5 and noise.any()
    assert np.all(fit.confidence[noise] == 0.0)
    assert np.all((fit.confidence >= 0) & (fit.confidence <= 1))
    moved = hdbscan(blobs(noise=60), 20, seed=1, reduction="pca", assign_noise=True)
    assert not (moved.labels == NOISE).any() and moved.details["noise_reassigned"] == noise.sum()


def test_hdbscan_on_a_sample_labels_every_point_like_the_full_fit():
    x = blobs(noise=60)
    full = hdbscan(x, 20, seed=1, reduction="pca")
    sampled = hdbscan(x, 20, seed=1, reduction="pca", max_fit_points=280)
    assert sampled.details["fitted_on_sample"] == 1 and full.details["fitted_on_sample"] == 0
    assert len(sampled.labels) == len(x) and sampled.num_clusters == 5
    members = (full.labels != NOISE) & (sampled.labels != NOISE)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(full.labels[members], sampled.labels[members]) > 0.95
    assert np.all((sampled.confidence >= 0) & (sampled.confidence <= 1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kmeans(blobs()[:3], 5), "fewer than the 5 clusters"),
        (lambda: kmeans(np.empty((0, 32)), 2), "no embedded queries"),
        (lambda: kmeans(np.ones((50, 32)), 2), "identical"),
        (lambda: hdbscan(blobs()[:10], 50), "larger than the 10"),
        (lambda: hdbscan(np.ones((50, 32)), 5), "identical"),
    ],
)
def test_impossible_inputs_fail_with_one_sentence(call, message):
    with pytest.raises(ClusteringInputError, match=message):
        call()


def test_impossible_settings_fail_before_any_fit():
    """k = 0 and a smallest cluster of 1 are refused by the parameters themselves (the
    registry turns that into one sentence for the CLI, see test_params)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        KMeansParams(n_clusters=0)
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        HDBSCANParams(min_cluster_size=1)


def test_hdbscan_clusters_unnormalised_pca_output_and_kmeans_the_normalised_one(monkeypatch):
    """Re-normalising the 10-d PCA output merged 15,150 of the 16,645 sample queries into one
    cluster (make demo, min size 25); density clustering must see the projection as it is,
    while spherical k-means fits on unit rows."""
    from lmsys_pipeline.clustering import registry

    assert registry.algorithm("hdbscan").reduced_on_sphere is False
    assert registry.algorithm("kmeans").reduced_on_sphere is True
    seen: dict[str, np.ndarray] = {}
    original = registry.reduce

    def spy(x, settings, *, on_sphere):
        reduced = original(x, settings, on_sphere=on_sphere)
        seen[f"{settings.reduction}-{settings.reduce_dims}-{on_sphere}"] = reduced.points
        return reduced

    monkeypatch.setattr(registry, "reduce", spy)
    fit = hdbscan(blobs(), 20, seed=1, reduction="pca")
    assert fit.details["reduction"] == "pca" and fit.details["reduced_dims"] == 10
    [density] = seen.values()
    assert density.shape == (500, 10)
    assert not np.allclose(np.linalg.norm(density, axis=1), 1.0, atol=1e-3)
    seen.clear()
    kmeans(blobs(), 5, seed=1, reduction="pca", reduce_dims=10)
    [spherical] = seen.values()
    assert spherical.shape == (500, 10)
    assert np.allclose(np.linalg.norm(spherical, axis=1), 1.0, atol=1e-4)


def test_no_reduction_fits_the_unit_vectors_whole():
    fit = kmeans(blobs(), 5, seed=1, reduction="none")
    assert fit.details["reduction"] == "none" and fit.details["reduced_dims"] == 32
    assert sorted(np.bincount(fit.labels)) == [100] * 5
