"""The offline summarizer: class-based TF-IDF keywords plus the most central query.

Each cluster is one "class" of class-based TF-IDF (``labeling/tfidf.py``): a term scores high
when many of the cluster's queries use it and few other clusters do. The title is the top
terms, the description names more of them and quotes the cluster's most central query.
No LLM, no network: it is the baseline an LLM's labels should beat, and what ``make demo``
uses.
"""

import re

import numpy as np

from lmsys_pipeline.labeling.labels import VAGUE_WORDS, ClusterLabel
from lmsys_pipeline.labeling.tfidf import class_tfidf
from lmsys_pipeline.summarizing.selection import ClusterBrief, truncate

TITLE_TERMS = 3
DESCRIPTION_TERMS = 6
EXEMPLAR_CHARS = 160


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
