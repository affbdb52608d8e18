from lmsys_pipeline.summarizing.keywords import keyword_labels
from lmsys_pipeline.summarizing.selection import ClusterBrief

DOCS = {
    0: ["my card was stolen", "stolen card, what now", "card stolen abroad", "lost card"],
    1: ["refund for my order", "how to get a refund", "refund not received", "order refund"],
    2: ["card payment declined", "why was my card declined", "declined at the shop", "card"],
}


def briefs() -> dict[int, ClusterBrief]:
    return {c: ClusterBrief(c, len(q) * 10, q, list(range(len(q)))) for c, q in DOCS.items()}


def test_keyword_labels_name_distinctive_terms_and_quote_the_central_query():
    labels = keyword_labels(briefs(), [0, 1, 2])
    assert labels[0].title.lower().startswith("stolen")
    assert labels[1].title.lower().startswith("refund")
    assert "card" not in labels[1].title.lower()
    assert labels[2].description.startswith("40 queries whose most distinctive terms are")
    assert 'The most central query is "card payment declined".' in labels[2].description
    assert labels[0].summary.startswith(labels[0].title + ": ")


def test_clusters_of_only_stop_words_and_digits_still_get_a_label():
    only = {
        0: ClusterBrief(0, 2, ["1234", "the and"], [1, 2]),
        1: ClusterBrief(1, 2, ["5678", "of the"], [3, 4]),
    }
    labels = keyword_labels(only, [0, 1])
    assert labels[0].title == "Queries like: 1234"
    assert "no distinctive words" in labels[0].description
