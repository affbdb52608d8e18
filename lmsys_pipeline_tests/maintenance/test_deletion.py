from sqlalchemy import func, select

from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.support.pipeline_data import SHARED_TEXT


def _count(db, statement) -> int:
    with db.engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def test_deleting_conversations_removes_them_everywhere_and_recounts(results_any):
    db, run_ids = results_any
    with db.engine.connect() as connection:
        unique_id, unique_text = connection.execute(
            select(Query.conversation_id, Query.query_text).where(Query.id == 1)
        ).one()
        shared_vector = connection.execute(
            select(QueryEmbedding.text_embedding_id)
            .join(Query, Query.id == QueryEmbedding.query_id)
            .where(Query.conversation_id == "shared-1")
        ).scalar_one()
        unique_vector = connection.execute(
            select(QueryEmbedding.text_embedding_id).where(QueryEmbedding.query_id == 1)
        ).scalar_one()
    vectors_before = _count(db, select(func.count()).select_from(TextEmbedding))

    report = delete_conversations(db, [unique_id, "shared-1", "no-such-conversation"])

    assert report.queries_deleted == 2 and report.not_found == ["no-such-conversation"]
    assert report.assignments_deleted == 2 * len(run_ids)
    assert report.vectors_deleted == 1  # the shared text still has shared-2
    assert _count(db, select(func.count()).select_from(TextEmbedding)) == vectors_before - 1
    with db.engine.connect() as connection:
        remaining = set(connection.execute(select(TextEmbedding.id)).scalars())
        assert shared_vector in remaining and unique_vector not in remaining
        assert (
            connection.execute(
                select(func.count())
                .select_from(Query)
                .where(Query.conversation_id.in_([unique_id, "shared-1"]))
            ).scalar_one()
            == 0
        )
        sizes = dict(
            ((r, c), n)
            for r, c, n in connection.execute(
                select(QueryCluster.run_id, QueryCluster.cluster_id, func.count()).group_by(
                    QueryCluster.run_id, QueryCluster.cluster_id
                )
            )
        )
        for summary in connection.execute(select(ClusterSummary)).all():
            assert summary.num_queries == sizes[(summary.run_id, summary.cluster_id)]
            assert all(
                not unique_text.startswith(q.rstrip("…")) and q != unique_text
                for q in summary.representative_queries
            )
    assert _count(db, select(func.count()).select_from(QueryCluster)) == 2 * 150
    again = delete_conversations(db, [unique_id])
    assert again.queries_deleted == 0 and again.not_found == [unique_id]
    with db.engine.connect() as connection:
        kept = connection.execute(
            select(Query.query_text, QueryEmbedding.text_embedding_id)
            .join(QueryEmbedding, QueryEmbedding.query_id == Query.id)
            .where(Query.conversation_id == "shared-2")
        ).one()
    assert kept == (SHARED_TEXT, shared_vector)
