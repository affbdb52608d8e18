"""The reduction step: UMAP by default, PCA as it was, samples at scale, tiny inputs."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lmsys_pipeline.clustering import reduction
from lmsys_pipeline.clustering.assign import majority
from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.reduction import UMAP_MIN_ROWS, reduce
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline_tests.support.vectors import blobs

# Labels that main's code (before UMAP: PCA 128, spherical k-means, k-means++, n_init 10)
# gave for ``overlapping_topics()`` with k = 8, seeds 0 and 7. Overlapping topics, so that
# any change to seeding, geometry or the choice of the best init shows (the two seeds already
# differ in 17 labels).
BEFORE_UMAP = {
    0: (
        "4554735101472230114014341243107203004060526721424175204464003765410614661410713356001466"
        "0500232144340413620405443265523345026626117035014520475342771721411120013151214562271673"
        "0230563200603314706122503070200166213542705037202333202216010311315014103722035130435110"
        "5147511705714116041074510170246562761422602645071510022550052022305003752203334435017762"
        "364533010316171613531265131320200141660173446517"
    ),
    7: (
        "4554035171402230114014341243100273704060526021424105204464003065410614661417013356771466"
        "7507232144340413627405443265523345026626110035014520405342001021411120013151214562201603"
        "7230563277603314006122573007270166213542075730272333272216017311315014103022035130435117"
        "5140511005014116741704517100246562061422672645701510722557752022375703052203334435710062"
        "364533010316101613531265131327270141660103446510"
    ),
}


def overlapping_topics(rows: int = 400, centres: int = 10, dims: int = 384, seed: int = 5):
    rng = np.random.default_rng(seed)
    middles = rng.standard_normal((centres, dims))
    which = rng.integers(centres, size=rows)
    return (middles[which] + rng.standard_normal((rows, dims)) * 0.9).astype(np.float32)


@pytest.mark.parametrize("seed", sorted(BEFORE_UMAP))
def test_kmeans_with_pca_gives_the_assignments_of_before_umap(seed):
    fit = fit_clustering(
        overlapping_topics(), KMeansParams(n_clusters=8, seed=seed, reduction="pca")
    )
    assert "".join(map(str, fit.labels)) == BEFORE_UMAP[seed]
    assert fit.details["kmeans"] == "spherical" and fit.details["reduced_dims"] == 128


def test_umap_is_the_default_and_repeats_bit_for_bit():
    x = blobs(n_per=80, centers=6, seed=2)
    first, second = (fit_clustering(x, KMeansParams(n_clusters=6, seed=3)) for _ in range(2))
    assert first.details["reduction"] == "umap" and first.details["reduced_dims"] == 5
    assert first.details["kmeans"] == "euclidean"
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.confidence, second.confidence)
    truth = np.repeat(np.arange(6), 80)
    assert adjusted_rand_score(truth, first.labels) > 0.95
    density = fit_clustering(x, HDBSCANParams(seed=3))
    assert density.details["reduction"] == "umap" and density.details["min_cluster_size"] == 10
    members = density.labels != NOISE
    assert adjusted_rand_score(truth[members], density.labels[members]) > 0.95


def test_above_the_sample_size_umap_fits_a_sample_and_every_query_is_labelled():
    x = blobs(n_per=300, centers=5, seed=4)
    truth = np.repeat(np.arange(5), 300)
    kmeans = fit_clustering(x, KMeansParams(n_clusters=5, seed=1, umap_sample=1_000))
    assert kmeans.details["fitted_rows"] == 1_000 and len(kmeans.labels) == 1_500
    assert adjusted_rand_score(truth, kmeans.labels) > 0.95
    density = fit_clustering(x, HDBSCANParams(min_cluster_size=60, seed=1, umap_sample=1_000))
    assert density.details["fitted_rows"] == 1_000 and density.details["fitted_on_sample"] == 1
    assert density.details["min_cluster_size"] == 60  # in queries of the run, scaled to 40
    members = density.labels != NOISE
    assert members.mean() > 0.9 and density.num_clusters == 5
    assert adjusted_rand_score(truth[members], density.labels[members]) > 0.95
    assert np.all((density.confidence >= 0) & (density.confidence <= 1))
    again = fit_clustering(x, HDBSCANParams(min_cluster_size=60, seed=1, umap_sample=1_000))
    np.testing.assert_array_equal(density.labels, again.labels)


def test_small_runs_hand_umap_its_own_exact_neighbours_and_get_its_layout_bit_for_bit(
    embedded_db, monkeypatch
):
    """Below ``EXACT_KNN_ROWS`` the neighbours come from ``exact_cosine_neighbours``, not from
    UMAP's pair-by-pair search; the layout is the one that search gives (the yardstick, same
    test), on 600 real queries plus 30 copies of one (a text many users sent: more ties at
    distance 0 than a row has neighbours)."""
    vectors = load_vectors(embedded_db, "all-MiniLM-L6-v2").for_queries()
    x = np.vstack([vectors[:300], np.repeat(vectors[:1], 30, axis=0), vectors[300:]])
    settings = KMeansParams(n_clusters=8, seed=4)
    with monkeypatch.context() as search_by_umap:
        search_by_umap.setattr(reduction, "EXACT_KNN_ROWS", 0)
        yardstick = reduce(x, settings, on_sphere=False).points

    def no_pairwise_search(*args, **kwargs):
        raise AssertionError("UMAP searched the neighbours itself")

    monkeypatch.setattr(reduction.load_umap().umap_, "pairwise_distances", no_pairwise_search)
    ours = reduce(x, settings, on_sphere=False)
    assert ours.details["reduction"] == "umap" and len(x) < reduction.EXACT_KNN_ROWS
    np.testing.assert_array_equal(ours.points, yardstick)


def test_exact_neighbours_are_nearest_first_and_ties_in_row_order():
    points = blobs(n_per=20, centers=3, seed=1)
    points = np.vstack([points, np.repeat(points[:1], 25, axis=0)]).astype(np.float32)

    def cosine(a, b):
        return float(1 - a @ b / np.sqrt((a @ a) * (b @ b)))

    indices, distances = reduction.exact_cosine_neighbours(points, 15, cosine)
    every = np.array([[cosine(a, b) for b in points] for a in points])
    expected = np.argsort(every, axis=1, kind="stable")[:, :15]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(distances, np.take_along_axis(every, expected, axis=1))
    assert indices[0].tolist() == [0, *range(60, 74)]  # 26 rows tie at 0: by row number


@pytest.mark.parametrize("rows", [4, 12, UMAP_MIN_ROWS - 1])
def test_tiny_inputs_fall_back_to_pca_and_say_so(rows):
    x = blobs(n_per=25, centers=2, seed=5)[:rows]
    fit = fit_clustering(x, KMeansParams(n_clusters=2))
    assert (
        fit.details["reduction"] == "pca"
        and "too few for UMAP" in fit.details["reduction_fallback"]
    )
    assert len(fit.labels) == rows
    density = fit_clustering(x, HDBSCANParams(min_cluster_size=2))
    assert density.details["reduction"] == "pca" and len(density.labels) == rows


def test_the_vote_takes_the_majority_and_breaks_ties_by_the_nearer_neighbour():
    missing = NOISE - 1
    neighbours = np.array(
        [
            [3, 1, 1, 3, 1],  # 1 has three votes
            [2, 4, 4, 2, 0],  # 2 and 4 tie: 2 is nearer
            [NOISE, NOISE, 5, 5, NOISE],  # noise is a label like any other
            [missing, 7, missing, 8, 8],  # missing neighbours do not vote
            [missing, missing, missing, missing, missing],
        ]
    )
    assert majority(neighbours).tolist() == [1, 2, NOISE, 8, NOISE]
