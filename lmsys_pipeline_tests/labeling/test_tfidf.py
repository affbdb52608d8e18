import numpy as np

from lmsys_pipeline.labeling.tfidf import class_tfidf

DOCS = {
    0: ["my card was stolen", "stolen card, what now", "card stolen abroad", "lost card"],
    1: ["refund for my order", "how to get a refund", "refund not received", "order refund"],
    2: ["card payment declined", "why was my card declined", "declined at the shop", "card"],
}


def test_class_tfidf_scores_terms_distinctive_of_each_class():
    documents = [q for qs in DOCS.values() for q in qs]
    classes = np.repeat(list(DOCS), 4)
    scores, vocabulary = class_tfidf(documents, classes, 3)
    best = [vocabulary[np.argmax(scores[c].toarray())] for c in range(3)]
    assert best == ["stolen", "refund", "declined"]
