from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lmsys_pipeline.clustering.params import (
    HDBSCANParams,
    KMeansParams,
    default_min_cluster_size,
    new_run_id,
)
from lmsys_pipeline.clustering.registry import build_params, params_from_run_id, parse_stored
from lmsys_pipeline.errors import UserError
from lmsys_pipeline_tests.clustering.stored import kmeans_before_umap

NOW = datetime(2025, 10, 3, 12, 34, 56, tzinfo=UTC)


def test_run_ids_follow_the_seed_and_never_collide():
    assert new_run_id("kmeans", 100, set(), NOW) == "kmeans-100-20251003-123456"
    taken = {"kmeans-100-20251003-123456", "kmeans-100-20251003-123456-2"}
    assert new_run_id("kmeans", 100, taken, NOW) == "kmeans-100-20251003-123456-3"
    assert new_run_id("hdbscan", 15, set(), NOW) == "hdbscan-15-20251003-123456"


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (KMeansParams, {}),
        (KMeansParams, {"n_clusters": 0}),
        (KMeansParams, {"n_clusters": -3}),
        (KMeansParams, {"n_clusters": 5, "min_cluster_size": 5}),
        (HDBSCANParams, {"min_cluster_size": 1}),
        (HDBSCANParams, {"min_cluster_size": 5, "reduction": "tsne"}),
        (KMeansParams, {"n_clusters": 5, "umap_sample": 10}),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_written(model, fields):
    with pytest.raises(ValidationError):
        model(**fields)


@pytest.mark.parametrize(
    ("algorithm", "fields", "message"),
    [
        ("kmeans", {}, "--n-clusters: field required."),
        ("kmeans", {"n_clusters": 0}, "--n-clusters 0: input should be greater than or equal"),
        ("kmeans", {"n_clusters": -3}, "--n-clusters -3: input should be greater than"),
        ("kmeans", {"n_clusters": 5, "min_cluster_size": 5}, "--min-cluster-size does not apply"),
        ("hdbscan", {"min_cluster_size": 1}, "--min-cluster-size 1: input should be greater"),
        ("hdbscan", {"min_cluster_size": 5, "backend": "x"}, "--backend x: input should be"),
        ("spectral", {"n_clusters": 5}, "Unknown clustering algorithm 'spectral'"),
    ],
)
def test_bad_parameters_from_a_user_fail_in_one_sentence(algorithm, fields, message):
    with pytest.raises(UserError) as raised:
        build_params(algorithm, fields)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_fields_not_given_take_the_algorithms_defaults():
    params = build_params("hdbscan", {"min_cluster_size": 8, "min_samples": None, "seed": None})
    assert params == HDBSCANParams(min_cluster_size=8)
    assert (params.reduction, params.reduce_dims, params.seed) == ("umap", 5, 42)
    assert (params.min_samples, params.umap_neighbors, params.umap_min_dist) == (5, 15, 0.0)
    assert params.umap_sample == 50_000
    assert HDBSCANParams().min_cluster_size is None  # set from the data when registered
    kmeans = KMeansParams(n_clusters=3)
    assert (kmeans.reduction, kmeans.reduce_dims) == ("umap", 5)


def test_the_dimensions_default_to_the_reductions_own():
    assert KMeansParams(n_clusters=3, reduction="pca").reduce_dims == 128
    assert HDBSCANParams(reduction="pca").reduce_dims == 10
    assert KMeansParams(n_clusters=3, reduction="none").reduce_dims is None
    assert KMeansParams(n_clusters=3, reduction="pca", reduce_dims=64).reduce_dims == 64
    assert build_params("kmeans", {"n_clusters": 3, "reduction": "pca"}).reduce_dims == 128


def test_the_default_min_cluster_size_grows_with_the_run():
    assert [default_min_cluster_size(n) for n in (3, 600, 3_080, 11_033, 1_000_000)] == [
        3,
        10,
        10,
        28,
        2_500,
    ]


def test_umap_settings_are_refused_with_another_reduction():
    with pytest.raises(UserError, match="--umap-neighbors applies to --reduction umap only"):
        build_params("kmeans", {"n_clusters": 3, "reduction": "pca", "umap_neighbors": 30})
    with pytest.raises(UserError, match="more than the 1,000 queries UMAP is fitted on"):
        build_params("kmeans", {"n_clusters": 2000, "umap_sample": 1000})


def test_a_hand_made_partition_key_implies_its_parameters():
    assert params_from_run_id("kmeans-50-20251127-120000") == KMeansParams(n_clusters=50)
    assert params_from_run_id("hdbscan-12-x") == HDBSCANParams(min_cluster_size=12)
    assert params_from_run_id("my-run") is None


def test_parameters_stored_before_the_split_still_load():
    flat = {
        "algorithm": "kmeans",
        "n_clusters": 7,
        "min_cluster_size": None,
        "kmeans_reduce_dims": None,
        "reduce_dims": 10,
        "hdbscan_backend": "fast_hdbscan",
        "seed": 3,
        "max_query_id": 99,
    }
    kmeans = parse_stored(flat)
    assert kmeans == KMeansParams(n_clusters=7, seed=3, reduction="none", reduce_dims=384)
    hdbscan = parse_stored(
        {
            "algorithm": "hdbscan",
            "n_clusters": None,
            "min_cluster_size": 9,
            "kmeans_reduce_dims": 128,
            "reduce_dims": 12,
            "hdbscan_backend": "hdbscan",
            "hdbscan_max_fit_points": 5000,
        }
    )
    assert hdbscan == HDBSCANParams(
        min_cluster_size=9,
        reduction="pca",
        reduce_dims=12,
        min_samples=None,
        backend="hdbscan",
        max_fit_points=5000,
    )
    assert parse_stored(KMeansParams(n_clusters=4).model_dump()) == KMeansParams(n_clusters=4)


def test_parameters_stored_before_umap_keep_their_reduction():
    """What issue 11's runs recorded (no UMAP fields): they reproduce with PCA as before."""
    kmeans = kmeans_before_umap()
    assert parse_stored(kmeans) == KMeansParams(n_clusters=12, reduction="pca")
    hdbscan = {
        "algorithm": "hdbscan",
        "min_cluster_size": 25,
        "min_samples": None,
        "reduction": "pca",
        "reduce_dims": 10,
        "max_fit_points": 200_000,
    }
    assert parse_stored(hdbscan) == HDBSCANParams(
        min_cluster_size=25, min_samples=None, reduction="pca"
    )
    umap_run = HDBSCANParams(min_cluster_size=25).model_dump()
    assert parse_stored(umap_run).reduction == "umap"
