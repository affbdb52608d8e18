from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lmsys_pipeline.clustering.params import ClusteringParams, new_run_id
from lmsys_pipeline.clustering.runs import params_from_run_id

NOW = datetime(2025, 10, 3, 12, 34, 56, tzinfo=UTC)


def test_run_ids_follow_the_seed_and_never_collide():
    params = ClusteringParams(algorithm="kmeans", n_clusters=100)
    assert new_run_id(params, set(), NOW) == "kmeans-100-20251003-123456"
    taken = {"kmeans-100-20251003-123456", "kmeans-100-20251003-123456-2"}
    assert new_run_id(params, taken, NOW) == "kmeans-100-20251003-123456-3"
    hdbscan = ClusteringParams(algorithm="hdbscan", min_cluster_size=15)
    assert new_run_id(hdbscan, set(), NOW) == "hdbscan-15-20251003-123456"


@pytest.mark.parametrize(
    "fields",
    [
        {"algorithm": "kmeans"},
        {"algorithm": "kmeans", "n_clusters": 0},
        {"algorithm": "kmeans", "n_clusters": -3},
        {"algorithm": "hdbscan", "min_cluster_size": 1},
        {"algorithm": "spectral", "n_clusters": 5},
    ],
)
def test_bad_parameters_are_refused_before_anything_is_written(fields):
    with pytest.raises(ValidationError):
        ClusteringParams(**fields)


def test_a_hand_made_partition_key_implies_its_parameters():
    assert params_from_run_id("kmeans-50-20251127-120000").n_clusters == 50
    assert params_from_run_id("hdbscan-12-x").min_cluster_size == 12
    assert params_from_run_id("my-run") is None
