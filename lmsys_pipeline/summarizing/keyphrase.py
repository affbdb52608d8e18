"""The offline summarizer (``local/keyphrase``): each cluster named by a phrase of its own
members' queries that sits near its centroid and away from its neighbours' (labeling/
keyphrases.py), described by its keyphrases and its two most central queries.

Phrases come from all members' queries (a seeded sample of ``MEMBER_TEXTS`` in larger
clusters), not only the twenty an LLM would be shown: on Banking77 that alone lifted
title → intent accuracy by about three points. No LLM, no network; the run's own embedding
model scores the phrases.
"""

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.labeling.keyphrases import Keyphrases, rank_keyphrases
from lmsys_pipeline.labeling.labels import ClusterLabel
from lmsys_pipeline.summarizing.selection import ClusterBrief, RunView, fetch_texts, truncate

MEMBER_TEXTS = 200
EXEMPLAR_CHARS = 160
EXEMPLARS = 2


def member_texts(
    db: DatabaseManager, view: RunView, cluster_ids: list[int], seed: int
) -> dict[int, list[str]]:
    """Each cluster's member queries, a seeded sample of ``MEMBER_TEXTS`` where it has more."""
    picked = {}
    for cluster_id in cluster_ids:
        members = view.members[cluster_id]
        if len(members) > MEMBER_TEXTS:
            rng = np.random.default_rng([seed, cluster_id + 1, 3])
            members = np.sort(rng.choice(members, MEMBER_TEXTS, replace=False))
        picked[cluster_id] = view.query_ids[members]
    texts = fetch_texts(db, np.concatenate(list(picked.values())) if picked else [])
    return {c: [texts[int(q)] for q in ids if int(q) in texts] for c, ids in picked.items()}


def _listing(phrases: list[str]) -> str:
    quoted = [f"'{p}'" for p in phrases]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def describe(size: int, found: Keyphrases | None, exemplars: list[str]) -> ClusterLabel:
    """A title and a description: one sentence of keyphrases, then the central queries."""
    quoted = [truncate(q, EXEMPLAR_CHARS).replace('"', "'") for q in exemplars[:EXEMPLARS]]
    if found is None:
        title = f"Queries like: {truncate(quoted[0], 40)}" if quoted else "Queries"
        first = f"{size:,} queries with no distinctive phrases."
    else:
        title = found.title
        first = f"{size:,} queries about {_listing(found.phrases)}."
    central = " and ".join(f'"{q}"' for q in quoted)
    closing = f" The most central {'queries are' if len(quoted) > 1 else 'query is'} {central}."
    # Built, not parsed: the exemplars are quoted whole, whatever sentences they hold.
    return ClusterLabel.model_construct(
        title=title, description=first + (closing if quoted else "")
    )


def describe_parent(size: int, found: Keyphrases | None, children: list[str]) -> ClusterLabel:
    """A parent category's title and description: its keyphrases, then its largest
    children's titles (given largest first)."""
    named = " and ".join(f'"{t}"' for t in children[:EXEMPLARS])
    if found is None:
        return ClusterLabel.model_construct(
            title=f"Group of {truncate(children[0], 40)}",
            description=f"{size:,} queries in {len(children)} clusters such as {named}.",
        )
    return ClusterLabel.model_construct(
        title=found.title,
        description=f"{size:,} queries about {_listing(found.phrases)}, in {len(children)} "
        f"clusters such as {named}.",
    )


def keyphrase_labels(
    briefs: dict[int, ClusterBrief],
    cluster_ids: list[int],
    texts: dict[int, list[str]],
    view: RunView,
    embedder: Embedder,
) -> dict[int, ClusterLabel]:
    """A label for each of ``cluster_ids`` from its members' ``texts``, contrasted with the
    nearest of all clusters in ``briefs`` (their titles never repeat one another)."""
    everyone = sorted(briefs)
    found = rank_keyphrases(
        {c: texts.get(c) or briefs[c].queries for c in everyone},
        {c: view.centroids[c] for c in everyone},
        embedder,
    )
    return {c: describe(briefs[c].size, found[c], briefs[c].queries) for c in cluster_ids}
