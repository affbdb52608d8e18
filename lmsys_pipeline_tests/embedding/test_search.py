import pytest
from sqlalchemy import select

from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import SearchError, SearchFilters, search
from lmsys_pipeline_tests.embedding.conftest import CARD_TEXTS, GERMAN_TEXTS, load_rows


@pytest.fixture
def search_db(sqlite_db, tmp_path, minilm):
    load_rows(sqlite_db, tmp_path, CARD_TEXTS, "en", language="English")
    load_rows(sqlite_db, tmp_path, GERMAN_TEXTS, "de", language="German", model="gpt-4")
    embed_pending(sqlite_db, minilm)
    return sqlite_db


def test_unfiltered_search_ranks_by_cosine(search_db, minilm):
    hits = search(search_db, minilm, "stolen credit card", top=5)
    assert len(hits) == 5
    assert all("stolen" in hit.query_text for hit in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_narrow_filter_still_returns_its_top_k(search_db, minilm):
    text = "stolen credit card"
    global_top = search(search_db, minilm, text, top=3)
    post_filtered = [hit for hit in global_top if hit.language == "German"]
    assert post_filtered == []  # what filtering after a global cut would give

    hits = search(search_db, minilm, text, top=3, filters=SearchFilters(language="German"))
    assert sorted(hit.query_text for hit in hits) == sorted(GERMAN_TEXTS)
    by_model = search(search_db, minilm, text, top=10, filters=SearchFilters(llm_model="gpt-4"))
    assert len(by_model) == 3


def test_run_and_cluster_filters(search_db, minilm):
    with search_db.get_session() as session:
        ids = {q.conversation_id: q.id for q in session.execute(select(Query)).scalars()}
        session.add(
            ClusteringRun(run_id="kmeans-2-20250101-000000", algorithm="kmeans", num_clusters=2)
        )
        session.flush()
        for conversation_id, query_id in ids.items():
            cluster = 1 if conversation_id.startswith("de") or conversation_id == "en0" else 0
            session.add(
                QueryCluster(
                    run_id="kmeans-2-20250101-000000", query_id=query_id, cluster_id=cluster
                )
            )
        session.commit()
    filters = SearchFilters(run_id="kmeans-2-20250101-000000", cluster_ids=(1,))
    hits = search(search_db, minilm, "stolen credit card", top=2, filters=filters)
    assert hits[0].query_text == CARD_TEXTS[0]
    assert {hit.cluster_id for hit in hits} == {1} and len(hits) == 2


def test_bad_filters_say_what_is_wrong(search_db, minilm):
    with pytest.raises(SearchError, match="needs --run-id"):
        search(search_db, minilm, "x", filters=SearchFilters(cluster_ids=(1,)))
    with pytest.raises(SearchError, match="does not exist"):
        search(search_db, minilm, "x", filters=SearchFilters(run_id="nope"))
    assert search(search_db, minilm, "x", filters=SearchFilters(language="Klingon")) == []
