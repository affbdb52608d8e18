"""The explorer's warm search: the same answers as ``lmsys search`` for every filter, the
vectors read once, and every change to vectors, assignments or clusters seen at the next call."""

import itertools

import pytest
from sqlalchemy import select, update

from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster
from lmsys_pipeline.embedding import warm as warm_module
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import SearchError, SearchFilters, search
from lmsys_pipeline.embedding.warm import WarmVectors
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.embedding.conftest import CARD_TEXTS, GERMAN_TEXTS, load_rows

RUN = "kmeans-2-20250101-000000"
TEXT = "stolen credit card"


@pytest.fixture
def run_db(sqlite_db, tmp_path, minilm):
    """Card and German queries; a run holding all but the last card query, in two clusters."""
    load_rows(sqlite_db, tmp_path, CARD_TEXTS, "en", language="English")
    load_rows(sqlite_db, tmp_path, GERMAN_TEXTS, "de", language="German", model="gpt-4")
    embed_pending(sqlite_db, minilm)
    with sqlite_db.get_session() as session:
        ids = {q.conversation_id: q.id for q in session.execute(select(Query)).scalars()}
        session.add(ClusteringRun(run_id=RUN, algorithm="kmeans", num_clusters=2))
        session.flush()
        for conversation_id, query_id in sorted(ids.items()):
            if conversation_id == f"en{len(CARD_TEXTS) - 1}":
                continue
            cluster = 1 if conversation_id.startswith("de") or conversation_id == "en0" else 0
            session.add(QueryCluster(run_id=RUN, query_id=query_id, cluster_id=cluster))
        session.commit()
    return sqlite_db


def _ids(hits) -> list[tuple[int, float, int | None]]:
    return [(hit.query_id, hit.score, hit.cluster_id) for hit in hits]


FILTERS = [
    SearchFilters(run_id=run, cluster_ids=clusters, language=language, llm_model=model)
    for run, clusters, language, model in itertools.product(
        (None, RUN), ((), (1,), (0, 1)), (None, "English", "German", "Klingon"), (None, "gpt-4")
    )
    if run or not clusters
]


def test_warm_answers_equal_lmsys_search_for_every_filter(run_db, minilm):
    warm = WarmVectors()
    for filters in FILTERS:
        for top in (1, 3, 30):
            cold = search(run_db, minilm, TEXT, top=top, filters=filters)
            assert _ids(search(run_db, minilm, TEXT, top=top, filters=filters, warm=warm)) == (
                _ids(cold)
            ), (filters, top)


def test_vectors_are_read_once_until_they_change(run_db, minilm, tmp_path, monkeypatch):
    loads = []
    real = warm_module.load_vectors
    monkeypatch.setattr(
        warm_module, "load_vectors", lambda *a, **k: loads.append(1) or real(*a, **k)
    )
    warm = WarmVectors()
    for _ in range(3):
        search(run_db, minilm, TEXT, top=3, filters=SearchFilters(run_id=RUN), warm=warm)
    assert len(loads) == 1
    load_rows(run_db, tmp_path, ["Someone stole my credit card at the station"], "new")
    embed_pending(run_db, minilm)
    search(run_db, minilm, TEXT, top=3, warm=warm)
    assert len(loads) == 2


def test_changes_reach_the_next_warm_search(run_db, minilm, tmp_path):
    warm = WarmVectors()
    in_run = SearchFilters(run_id=RUN)
    in_cluster_1 = SearchFilters(run_id=RUN, cluster_ids=(1,))
    left_out = f"en{len(CARD_TEXTS) - 1}"

    def conversations(filters, top=50):
        hits = search(run_db, minilm, TEXT, top=top, filters=filters, warm=warm)
        return {hit.conversation_id for hit in hits}

    assert left_out not in conversations(in_run)
    with run_db.get_session() as session:
        query_id = session.execute(
            select(Query.id).where(Query.conversation_id == left_out)
        ).scalar_one()
        session.add(QueryCluster(run_id=RUN, query_id=query_id, cluster_id=0))
        session.commit()
    assert left_out in conversations(in_run), "a late assignment"

    assert "en5" not in conversations(in_cluster_1)
    with run_db.get_session() as session:
        en5 = session.execute(select(Query.id).where(Query.conversation_id == "en5")).scalar()
        session.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == RUN, QueryCluster.query_id == en5)
            .values(cluster_id=1)
        )
        session.commit()
    assert "en5" in conversations(in_cluster_1), "a query moved between clusters"

    delete_conversations(run_db, ["en0"])
    assert "en0" not in conversations(in_run) | conversations(SearchFilters())

    load_rows(run_db, tmp_path, ["Mein Fahrrad wurde gestohlen"], "late", language="German")
    embed_pending(run_db, minilm)
    assert "late0" in conversations(SearchFilters(language="German"))


def test_warm_search_refuses_bad_filters_like_lmsys_search(run_db, minilm):
    warm = WarmVectors()
    with pytest.raises(SearchError, match="needs --run-id"):
        search(run_db, minilm, "x", filters=SearchFilters(cluster_ids=(1,)), warm=warm)
    with pytest.raises(SearchError, match="does not exist"):
        search(run_db, minilm, "x", filters=SearchFilters(run_id="nope"), warm=warm)
    with pytest.raises(SearchError, match="empty"):
        search(run_db, minilm, "  ", warm=warm)
