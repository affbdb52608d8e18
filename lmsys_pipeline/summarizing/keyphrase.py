"""The offline summarizer (``local/keyphrase``): each cluster named by a phrase of its own
members' queries that sits near its centroid and away from its neighbours' (labeling/
keyphrases.py), described by its keyphrases and its two most central queries.

Phrases come from all members' queries (a seeded sample of ``MEMBER_TEXTS`` in larger
clusters), not only the twenty an LLM would be shown: on Banking77 that alone lifted
title → intent accuracy by about three points. No LLM, no network; the run's own embedding
model scores the phrases.
"""

from dataclasses import dataclass

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.labeling.keyphrases import Keyphrases, rank_keyphrases
from lmsys_pipeline.labeling.labels import ClusterLabel
from lmsys_pipeline.summarizing.selection import ClusterBrief, RunView, fetch_texts, truncate

MEMBER_TEXTS = 200
EXEMPLAR_CHARS = 160
EXEMPLARS = 2


@dataclass
class MemberTexts:
    """Each cluster's sampled member queries and their stored vectors, row for row."""

    texts: dict[int, list[str]]
    vectors: dict[int, np.ndarray]


def member_texts(
    db: DatabaseManager, view: RunView, cluster_ids: list[int], seed: int
) -> MemberTexts:
    """Each cluster's member queries, a seeded sample of ``MEMBER_TEXTS`` where it has more."""
    picked = {}
    for cluster_id in cluster_ids:
        members = view.members[cluster_id]
        if len(members) > MEMBER_TEXTS:
            rng = np.random.default_rng([seed, cluster_id + 1, 3])
            members = np.sort(rng.choice(members, MEMBER_TEXTS, replace=False))
        picked[cluster_id] = members
    ids = [view.query_ids[m] for m in picked.values()]
    texts = fetch_texts(db, np.concatenate(ids) if ids else [])
    found = MemberTexts({}, {})
    for cluster_id, members in picked.items():
        kept = members[[int(q) in texts for q in view.query_ids[members]]]
        found.texts[cluster_id] = [texts[int(q)] for q in view.query_ids[kept]]
        found.vectors[cluster_id] = view.vectors[view.rows[kept]]
    return found


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
    members: MemberTexts,
    view: RunView,
    embedder: Embedder,
) -> dict[int, ClusterLabel]:
    """A label for each of ``cluster_ids`` from its ``members``' texts, contrasted with the
    nearest of all clusters in ``briefs`` (their titles never repeat one another)."""
    everyone = sorted(briefs)
    found = rank_keyphrases(
        {c: members.texts.get(c) or briefs[c].queries for c in everyone},
        {c: view.centroids[c] for c in everyone},
        embedder,
        text_vectors={c: members.vectors[c] for c in everyone if members.texts.get(c)},
    )
    return {c: describe(briefs[c].size, found[c], briefs[c].queries) for c in cluster_ids}
