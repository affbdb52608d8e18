import pytest
from sqlalchemy import update

from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.reading.choice import NotFound, choose_summary_run, summary_runs_of
from lmsys_pipeline.reading.clusters import cluster_detail, compare_aliases, list_clusters
from lmsys_pipeline.reading.facets import cluster_lifts, lifts
from lmsys_pipeline_tests.conftest import RESULTS_CLUSTERS as K


def test_without_a_choice_the_latest_summary_run_by_generated_at_is_used(results):
    db, run_id = results
    first, second = sorted(summary_runs_of(db, run_id), key=lambda c: c.generated_at)
    assert choose_summary_run(db, run_id).summary_run_id == second.summary_run_id
    # Make the older run's rows the newest: the choice follows generated_at, not names.
    with db.engine.begin() as connection:
        connection.execute(
            update(ClusterSummary)
            .where(ClusterSummary.summary_run_id == first.summary_run_id)
            .values(generated_at=second.generated_at.replace(year=2099))
        )
    chosen = choose_summary_run(db, run_id)
    assert chosen.summary_run_id == first.summary_run_id
    assert chosen.chosen_by == "the latest summary run by generated_at"


def test_unknown_runs_aliases_and_summary_runs_are_named_in_one_sentence(results):
    db, run_id = results
    with pytest.raises(NotFound, match="Clustering run nope does not exist"):
        choose_summary_run(db, "nope")
    with pytest.raises(NotFound, match="has no summary run with alias gpt: it has kw, kw-short"):
        choose_summary_run(db, run_id, alias="gpt")
    with pytest.raises(NotFound, match="does not belong to"):
        choose_summary_run(db, run_id, summary_run_id="summary-x")
    with pytest.raises(NotFound, match=f"Cluster 99 is not in run {run_id}: its clusters are 0 "):
        cluster_detail(db, run_id, 99)


def test_clusters_come_by_size_with_the_chosen_titles_and_central_examples(results):
    db, run_id = results
    choice = choose_summary_run(db, run_id, alias="kw")
    rows = list_clusters(db, run_id, choice, show_examples=2)
    assert [r.size for r in rows] == sorted((r.size for r in rows), reverse=True)
    assert sum(r.size for r in rows) == 600 and len(rows) == K
    assert all(r.title and r.description for r in rows)
    assert all(len(r.examples) == 2 for r in rows)
    assert len(list_clusters(db, run_id, choice, limit=2)) == 2
    assert all(r.title is None for r in list_clusters(db, run_id, None))


def test_inspect_gives_confidence_facets_and_the_most_central_queries_first(results):
    db, run_id = results
    detail = cluster_detail(db, run_id, 0, alias="kw-short", show_queries=4)
    assert detail.summary.alias == "kw-short" and detail.title
    assert detail.size == cluster_sizes(db, run_id)[0]
    assert (
        -1
        <= detail.confidence["min"]
        <= detail.confidence["median"]
        <= detail.confidence["max"]
        <= 1
    )
    assert sum(n for _, _, n in detail.confidence_histogram) == detail.size
    assert sum(detail.languages.values()) == detail.size
    assert len(detail.queries) == 4
    with db.engine.connect() as connection:
        top = connection.execute(
            QueryCluster.__table__.select()
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == 0)
            .order_by(QueryCluster.confidence_score.desc())
            .limit(1)
        ).one()
        text = (
            connection.execute(Query.__table__.select().where(Query.id == top.query_id))
            .one()
            .query_text
        )
    assert detail.queries[0] == text


def test_lift_finds_what_is_over_represented():
    run = {"English": 900, "Portuguese": 100}
    found = lifts({"English": 10, "Portuguese": 30}, run)
    assert [f.value for f in found] == ["Portuguese"]
    assert found[0].lift == pytest.approx((30 / 40) / (100 / 1000), rel=1e-3)
    assert lifts({"Portuguese": 2}, run) == []  # below the minimum count
    assert lifts({"English": 95, "Portuguese": 5}, run, min_lift=1.0)[0].value == "English"
    assert lifts({"English": 95, "Portuguese": 5}, run) == []  # x1.06 is not a finding


def test_cluster_lifts_cover_every_cluster(results):
    db, run_id = results
    per_cluster = cluster_lifts(db, run_id, "language")
    assert set(per_cluster) == set(range(K))
    assert all(f.lift >= 1.5 for facets in per_cluster.values() for f in facets)


def test_compare_puts_aliases_side_by_side_with_label_quality(results):
    db, run_id = results
    comparison = compare_aliases(db, run_id, ["kw", "kw-short"])
    assert len(comparison.rows) == K
    assert all(row["kw"] and row["kw-short"] for row in comparison.rows)
    assert all(0 <= score <= 1 for score in comparison.label_accuracy.values())
    with pytest.raises(NotFound):
        compare_aliases(db, run_id, ["kw", "missing"])
