"""The offline summarizer: class-based TF-IDF keywords plus the most central query.

Each cluster is one "class": a term scores high when many of the cluster's queries use it and
few other clusters do (c-TF-IDF, as in BERTopic). The title is the top terms, the description
names more of them and quotes the cluster's most central query. No LLM, no network: it is the
baseline an LLM's labels should beat, and what ``make demo`` uses.
"""

import re

import numpy as np

from lmsys_pipeline.summarizing.prompts import VAGUE_WORDS, ClusterLabel
from lmsys_pipeline.summarizing.selection import ClusterBrief, truncate

TITLE_TERMS = 3
DESCRIPTION_TERMS = 6
EXEMPLAR_CHARS = 160
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


def _top_terms(scores_row, vocabulary: np.ndarray, count: int) -> list[str]:
    row = scores_row.toarray().ravel()
    chosen: list[str] = []
    for index in np.argsort(-row, kind="stable"):
        if row[index] <= 0 or len(chosen) == count:
            break
        term = str(vocabulary[index])
        if any(re.search(rf"\b{w}\b", term) for w in VAGUE_WORDS):
            continue
        words = {w.removesuffix("s") for w in term.split()}
        if any(
            words <= other or other <= words
            for other in ({w.removesuffix("s") for w in c.split()} for c in chosen)
        ):
            continue
        chosen.append(term)
    return chosen


def _listing(terms: list[str]) -> str:
    quoted = [f"'{t}'" for t in terms]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def keyword_labels(
    briefs: dict[int, ClusterBrief], cluster_ids: list[int]
) -> dict[int, ClusterLabel]:
    """A label for each of ``cluster_ids`` from the same representative queries an LLM would
    see (most central first), contrasted against every cluster in ``briefs``."""
    all_clusters = sorted(briefs)
    index = {c: i for i, c in enumerate(all_clusters)}
    documents = [q for c in all_clusters for q in briefs[c].queries]
    classes = np.concatenate([np.full(len(briefs[c].queries), index[c]) for c in all_clusters])
    scores, vocabulary = class_tfidf(documents, classes, len(all_clusters))
    labels = {}
    for cluster_id in cluster_ids:
        brief = briefs[cluster_id]
        terms = (
            _top_terms(scores[index[cluster_id]], vocabulary, DESCRIPTION_TERMS)
            if len(vocabulary)
            else []
        )
        exemplar = truncate(brief.queries[0], EXEMPLAR_CHARS).replace('"', "'")
        if terms:
            title = ", ".join(terms[:TITLE_TERMS])
            title = title[0].upper() + title[1:]
            first = f"{brief.size:,} queries whose most distinctive terms are {_listing(terms)}."
        else:
            title = f"Queries like: {truncate(exemplar, 40)}"
            first = f"{brief.size:,} queries with no distinctive words."
        # Built, not parsed: the exemplar is quoted whole, whatever sentences it holds.
        labels[cluster_id] = ClusterLabel.model_construct(
            title=title, description=f'{first} The most central query is "{exemplar}".'
        )
    return labels
