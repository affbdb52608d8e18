import numpy as np
import pytest

from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.embedding.store import text_key
from lmsys_pipeline.summarizing.params import SummaryParams
from lmsys_pipeline.summarizing.selection import (
    SummaryInputError,
    build_briefs,
    fetch_texts,
    load_run_view,
    truncate,
)
from lmsys_pipeline_tests.summarizing.conftest import CLUSTERS


def test_the_view_holds_every_assignment_and_unit_centroids(clustered):
    db, run_id = clustered
    view = load_run_view(db, run_id)
    assert view.cluster_ids == list(range(CLUSTERS))
    assert sum(view.size(c) for c in view.cluster_ids) == len(view.query_ids) == 600
    assert np.allclose(np.linalg.norm(view.centroids, axis=1), 1.0, atol=1e-5)


def test_representatives_start_with_the_most_central_and_are_distinct(clustered):
    db, run_id = clustered
    view = load_run_view(db, run_id)
    params = SummaryParams(max_queries=10, max_query_chars=60)
    briefs = build_briefs(db, view, params, view.cluster_ids)
    for cluster_id, brief in briefs.items():
        members = view.members[cluster_id]
        most_central = view.query_ids[members[np.argmax(view.centrality[members])]]
        texts = fetch_texts(db, brief.shown_query_ids)
        keys = [text_key(texts[q]).casefold() for q in brief.shown_query_ids]
        assert len(set(keys)) == len(keys)
        assert len(brief.queries) == min(
            10,
            len(
                {text_key(t).casefold() for t in fetch_texts(db, view.query_ids[members]).values()}
            ),
        )
        assert all(len(q) <= 60 for q in brief.queries)
        assert set(brief.shown_query_ids) <= set(view.query_ids[members].tolist())
        central_text = text_key(fetch_texts(db, [most_central])[int(most_central)]).casefold()
        assert keys[0] == central_text or central_text in keys[:5]


def test_contrast_comes_from_the_nearest_clusters_by_centroid(clustered):
    db, run_id = clustered
    view = load_run_view(db, run_id)
    briefs = build_briefs(db, view, SummaryParams(contrast_neighbors=2), [0, 5])
    for cluster_id, brief in briefs.items():
        similarity = view.centroids @ view.centroids[cluster_id]
        similarity[cluster_id] = -np.inf
        assert list(brief.neighbors) == list(np.argsort(-similarity)[:2])
        assert all(len(examples) == 3 for examples in brief.neighbors.values())


def test_selection_is_seeded(clustered):
    db, run_id = clustered
    view = load_run_view(db, run_id)
    first = build_briefs(db, view, SummaryParams(), [1])[1].queries
    assert build_briefs(db, view, SummaryParams(), [1])[1].queries == first
    assert build_briefs(db, view, SummaryParams(seed=7), [1])[1].queries != first


def test_a_run_without_assignments_is_refused_in_one_sentence(embedded_db):
    run = register_run(embedded_db, KMeansParams(n_clusters=3))
    with pytest.raises(SummaryInputError, match="has no assignments yet"):
        load_run_view(embedded_db, run.run_id)


def test_noise_is_its_own_cluster_without_neighbours(embedded_db):
    run = register_run(embedded_db, HDBSCANParams(min_cluster_size=15))
    materialize_run(embedded_db, run.run_id)
    view = load_run_view(embedded_db, run.run_id)
    assert -1 in view.cluster_ids
    assert view.nearest_clusters(-1, 3) == []
    assert -1 not in view.nearest_clusters(0, len(view.cluster_ids))


def test_truncate_collapses_whitespace_and_marks_the_cut():
    assert truncate("a  b\n c", 10) == "a b c"
    assert truncate("x" * 50, 10) == "x" * 9 + "…"
