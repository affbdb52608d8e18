"""Quotes withheld from public fields: near-verbatim runs of six content words shared with a
member query of the node, besides whole and cut quotes."""

from sqlalchemy import select, update

from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.labeling.phrases import stop_words
from lmsys_pipeline.privacy.publish import gate
from lmsys_pipeline.privacy.quotes import WITHHELD, NearQuotes, content_tokens
from lmsys_pipeline.privacy.view import public_view
from lmsys_pipeline_tests.privacy.planted import build_planted

QUERY = "Hi! Could you please send the invoice for order 7 to Jane Roe in Leeds, thanks"


def _near(fields: dict, queries: list[tuple[str, tuple[int, ...]]]) -> dict:
    near = NearQuotes(fields, stop_words())
    for text, nodes in queries:
        near.read(text, nodes)
    return near.withheld()


def test_content_tokens_ignore_case_punctuation_stop_words_and_withheld_quotes():
    words = [w for w, *_ in content_tokens(f"Send THE invoice, {WITHHELD} order-7!", stop_words())]
    assert words == ["send", "invoice", "", "order", "7"]  # "" : a run stops at a quote


def test_a_paraphrase_keeping_six_words_in_order_is_withheld_only_for_its_own_node():
    fields = {
        (1, "description"): "Users write: SEND the invoice, for order 7, to Jane Roe (Leeds).",
        (1, "title"): "Invoice requests for orders",
        (2, "description"): "Send the invoice for order 7 to Jane Roe in Leeds",
        (3, "description"): "Send invoice for order 7 to Jane and Leeds office",
    }
    changed = _near(fields, [(QUERY, (1, 9)), (QUERY.replace("Roe", "Doe"), (3,))])
    assert changed == {(1, "description"): f"Users write: {WITHHELD})."}
    # node 3 shares five words in a row with its members ("send invoice order 7 jane"): kept
    assert _near(fields, [(QUERY, (3,))]) == {}


def test_topic_words_shorter_than_six_are_kept():
    fields = {(1, "title"): "Card payment declined at a shop abroad"}
    query = "my card payment was declined at the shop abroad yesterday, why?"
    assert _near(fields, [(query, (1,))]) == {}  # card payment declined shop abroad: five


def test_a_paraphrased_member_query_is_withheld_from_the_public_view(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path)
    with db.engine.connect() as connection:
        text, cluster = connection.execute(
            select(Query.query_text, QueryCluster.cluster_id)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run_id, Query.conversation_id == "planted-7")
        ).one()
        other = (
            connection.execute(
                select(ClusterSummary.cluster_id).where(
                    ClusterSummary.run_id == run_id, ClusterSummary.cluster_id != cluster
                )
            )
            .scalars()
            .first()
        )
    assert "(415) 555-0107" in text
    paraphrase = "Customers ask: kindly SEND THE INVOICE for order 7 to me at (415) 555-0107."
    with db.engine.begin() as connection:
        for target in (cluster, other):
            connection.execute(
                update(ClusterSummary)
                .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == target)
                .values(description=paraphrase)
            )
    view = public_view(db, run_id, "kw", min_conversations=1)
    assert view.fields[cluster]["description"] == f"Customers ask: kindly {WITHHELD}."
    assert (cluster, "description") in view.quotes_withheld
    # The same words in another cluster quote none of its members: kept, and found.
    assert view.fields[other]["description"] == paraphrase
    assert [(f.node_id, f.field, f.kinds) for f in view.findings] == [
        (other, "description", ("phone",))
    ]
    with db.engine.begin() as connection:
        connection.execute(
            update(ClusterSummary)
            .where(ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == other)
            .values(description="Invoice requests.")
        )
    gate(public_view(db, run_id, "kw", min_conversations=1))  # nothing left to refuse
