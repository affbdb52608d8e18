"""Label measures stored with every summary and hierarchy run (issue 25):

* member fit: the share of sampled member queries whose most similar title (by cosine of
  their stored vectors to the embedded titles), among all the run's titles, is their own
  cluster's (or node's);
* sibling overlap: the share of sibling pairs whose titles share a content word (stop words
  left out, a plural's "s" dropped);
* duplicate titles: titles that repeat another title of the run (case-insensitive).
"""

import re
from collections import Counter
from collections.abc import Hashable, Iterable

import numpy as np

from lmsys_pipeline.db.summaries import LABEL_MEASURES
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.labeling.phrases import stop_words

CONTENT_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def content_words(title: str) -> set[str]:
    stops = stop_words()
    return {
        word.removesuffix("s")
        for word in CONTENT_WORD.findall(title.casefold())
        if word not in stops and not word.isdigit()
    }


def duplicate_titles(titles: Iterable[str]) -> int:
    """How many titles repeat an earlier one, case and spacing ignored."""
    counts = Counter(" ".join(t.casefold().split()) for t in titles)
    return sum(n - 1 for n in counts.values())


def sibling_overlap(titles: dict[Hashable, str], pairs: Iterable[tuple]) -> float | None:
    """Share of ``pairs`` (keys of ``titles``) whose titles share a content word."""
    words = {key: content_words(title) for key, title in titles.items()}
    shared = [bool(words[a] & words[b]) for a, b in pairs if a in words and b in words]
    return round(float(np.mean(shared)), 4) if shared else None


def member_fit(
    titles: dict[Hashable, str], members: dict[Hashable, np.ndarray], embedder: Embedder
) -> float | None:
    """Share of member vectors (``members``: key → unit rows) nearest their own key's title."""
    keys = [k for k in titles if k in members and len(members[k])]
    if len(keys) < 2:
        return None
    title_vectors = np.asarray(embedder.embed([titles[k] for k in keys]), dtype=np.float32)
    hits = total = 0
    for index, key in enumerate(keys):
        nearest = np.argmax(members[key] @ title_vectors.T, axis=1)
        hits += int(np.sum(nearest == index))
        total += len(nearest)
    return round(hits / total, 4)


def sampled_members(
    vectors: np.ndarray, members: dict[Hashable, np.ndarray], per_key: int, seed: int
) -> dict[Hashable, np.ndarray]:
    """Up to ``per_key`` seeded rows of ``vectors`` for each key (``members``: key → rows)."""
    picked = {}
    for index, (key, rows) in enumerate(sorted(members.items(), key=lambda item: str(item[0]))):
        rng = np.random.default_rng([seed, index, 11])
        chosen = rng.choice(rows, size=min(per_key, len(rows)), replace=False)
        picked[key] = vectors[np.sort(chosen)]
    return picked


def label_measures(
    titles: dict[Hashable, str],
    members: dict[Hashable, np.ndarray],
    sibling_pairs: Iterable[tuple],
    embedder: Embedder,
) -> dict[str, float | int | None]:
    """The three measures of one run's titles (``members``: key → sampled unit vectors)."""
    return {
        "member_fit": member_fit(titles, members, embedder),
        "member_fit_queries": int(sum(len(members.get(k, ())) for k in titles)),
        "sibling_overlap": sibling_overlap(titles, sibling_pairs),
        "duplicate_titles": duplicate_titles(titles.values()),
    }


def measures_metadata(entry) -> dict[str, float | int | None]:
    """A run's stored measures as metadata entries, ``label_``-prefixed (none when skipped)."""
    stored = (entry.parameters or {}).get(LABEL_MEASURES) or {}
    return {f"label_{name}": value for name, value in stored.items()}


def measures_line(measures: dict | None) -> str:
    """Stored measures in a few words: "member fit 0.751, sibling overlap 0.446, 0 duplicate
    titles"; "" when there are none."""
    if not measures:
        return ""
    parts = []
    if measures.get("member_fit") is not None:
        parts.append(f"member fit {measures['member_fit']:.3f}")
    if measures.get("sibling_overlap") is not None:
        parts.append(f"sibling overlap {measures['sibling_overlap']:.3f}")
    if measures.get("duplicate_titles") is not None:
        parts.append(f"{measures['duplicate_titles']} duplicate titles")
    return ", ".join(parts)
