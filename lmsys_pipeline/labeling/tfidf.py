"""Class-based TF-IDF (c-TF-IDF, as in BERTopic): each class (a cluster, a parent's group of
clusters) is one document, so a term scores high when many of the class's texts use it and few
other classes do. The offline summarizer names clusters with it and the offline hierarchy
describes nodes with it."""

import numpy as np

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
# Chat filler and contraction stems ("doesn't" → "doesn") that say nothing about a topic.
CHAT_STOP_WORDS = frozenset(
    {
        "aren",
        "can",
        "couldn",
        "did",
        "didn",
        "does",
        "doesn",
        "don",
        "got",
        "hasn",
        "haven",
        "having",
        "hello",
        "hi",
        "isn",
        "just",
        "know",
        "like",
        "ll",
        "need",
        "needs",
        "please",
        "re",
        "thank",
        "thanks",
        "ve",
        "want",
        "wants",
        "wasn",
        "won",
        "wouldn",
    }
)


def class_tfidf(documents: list[str], classes: np.ndarray, num_classes: int):
    """(score matrix classes x terms, vocabulary). Counts each term once per query."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | CHAT_STOP_WORDS),
        ngram_range=(1, 2),
        binary=True,
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
    )
    try:
        counts = vectorizer.fit_transform(documents)
    except ValueError:  # no usable words at all (only digits, symbols or stop words)
        return np.zeros((num_classes, 0)), np.array([], dtype=object)
    membership = csr_matrix(
        (np.ones(len(classes)), (classes, np.arange(len(classes)))),
        shape=(num_classes, len(classes)),
    )
    per_class = (membership @ counts).tocsr().astype(np.float64)
    sizes = np.asarray(membership.sum(axis=1)).ravel()
    term_frequency = per_class.multiply(1.0 / np.maximum(sizes, 1)[:, None]).tocsr()
    totals = np.asarray(per_class.sum(axis=0)).ravel()
    average = per_class.sum() / max(num_classes, 1)
    idf = np.log1p(average / np.maximum(totals, 1))
    return term_frequency.multiply(idf).tocsr(), vectorizer.get_feature_names_out()
