"""Keyphrases of groups of texts (clusters, parent categories), ranked by meaning.

Candidates are the phrases of the groups' texts that read as names (labeling/phrases.py:
1-5 words, parents 1-4, prose only, so a programming task is named by what it asks); a phrase
that states a task ("Write a Python program": a task verb and its object) gets
``TASK_BONUS``. Only phrases in the script most of a group's texts are
written in are kept. Each group keeps its ``SHORTLIST`` candidates most used by its own
texts and least by the other groups', above all its nearest groups' (class-based TF-IDF on
phrases, scaled by the group's share of the phrase's use among itself and its
``CONTRAST_GROUPS`` nearest). Where the texts' own vectors are given (clusters; not
parents), that list is cut to the ``FIT_SHORTLIST`` phrases whose texts sit most firmly in
the group: the mean, over the texts holding the phrase, of their cosine to the group's
centroid minus their best cosine to a nearest group's (plus the same coverage prior as
below). That costs no embedding, raised title → intent on both labelled sets and leaves a
third of the phrases to embed (benchmarks/RESULTS.md). The distinct shortlisted phrases are
embedded once, with the model that embedded the texts, and scored (KeyBERT-style, with
Toponymy's contrast):

    cosine(phrase, group centroid) - CONTRAST · max cosine(phrase, nearest other centroids)
    + COVERAGE · share of the group's texts that contain the phrase

(parent categories: ``PARENT_COVERAGE`` instead of ``COVERAGE``, as hierarchy/offline.py asks)

The title is a group's best phrase not already taken by a group with a better best score (so
no two groups share a title); a phrase within ``SIBLING_MARGIN`` of it that shares no word with
the titles already given to its nearest groups is preferred (contrastive sibling naming: fewer
siblings sharing a word, at no loss of title → intent); its other keyphrases are picked by
maximal marginal relevance (MMR), so they are not rewordings of the title.
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np

from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.labeling.phrases import MAX_WORDS, candidate_phrases, script, stop_words

SHORTLIST = 30  # candidates per group by use (all embedded when the texts' vectors are not given)
FIT_SHORTLIST = 10  # of those, the ones embedded when they are (see the module docstring)
CONTRAST = 0.5  # weight of the nearest other groups' closeness
CONTRAST_GROUPS = 5  # how many nearest other groups a phrase is contrasted with
COVERAGE = 0.05  # weight of the share of the group's texts that hold the phrase
# a parent's name spans its children ("Payment" over declines, charges and fees, not
# "Payment has been declined", its largest child): the share of texts counts more
PARENT_COVERAGE = 0.3
TASK_BONUS = 0.05  # for a phrase that states a task: "Write a Python function"
TASK_VERBS = frozenset(
    [
        "write",
        "rewrite",
        "create",
        "implement",
        "build",
        "generate",
        "explain",
        "fix",
        "debug",
        "convert",
        "translate",
        "solve",
        "calculate",
        "compute",
        "prove",
        "summarize",
        "summarise",
        "design",
        "draft",
        "compose",
        "describe",
        "compare",
        "optimize",
        "refactor",
    ]
)
EXTEND_SHARE = 0.25  # a task title is completed by a next word at least this share holds
SIBLING_MARGIN = 0.02  # score a title gives up not to share a word with a nearest group's
MMR_DIVERSITY = 0.3
KEYPHRASES = 4


@dataclass
class Keyphrases:
    title: str
    phrases: list[str]  # the title's phrase first, then the MMR picks
    coverage: list[float]  # share of the group's texts holding each phrase


@dataclass
class _Group:
    counts: Counter
    spelling: dict[str, Counter]
    texts: int
    holders: dict[str, list[int]]  # phrase → the positions of the texts holding it
    # the script most of the texts are written in: a mostly English cluster is not named by
    # the one Chinese sentence among its prompts (and a Chinese one is named in Chinese)
    script: str


def _count(texts: list[str], stops: frozenset[str], max_words: int) -> _Group:
    counts: Counter = Counter()
    spelling: dict[str, Counter] = {}
    holders: dict[str, list[int]] = {}
    scripts: Counter = Counter()
    for position, text in enumerate(texts):
        found = candidate_phrases(text, stops, max_words)
        if found:
            scripts[Counter(script(p) for p in found).most_common(1)[0][0]] += 1
        for phrase, written in found.items():
            counts[phrase] += 1
            spelling.setdefault(phrase, Counter())[written] += 1
            holders.setdefault(phrase, []).append(position)
    written_in = scripts.most_common(1)[0][0] if scripts else "LATIN"
    return _Group(counts, spelling, len(texts), holders, written_in)


def _shortlist(groups: dict, nearest: dict[object, list]) -> dict[object, list[str]]:
    """Each group's ``SHORTLIST`` phrases by coverage x log(1 + groups / groups using it) x
    its share of the phrase's coverage among itself and its ``nearest`` groups."""
    used_by: Counter = Counter()
    for group in groups.values():
        used_by.update(group.counts.keys())
    shortlist = {}
    for key, group in groups.items():
        floor = 2 if group.texts >= 10 else 1
        scored = []
        for phrase, count in group.counts.items():
            if count < floor or script(phrase) != group.script:
                continue
            mine = count / group.texts
            theirs = max(
                (groups[o].counts.get(phrase, 0) / max(groups[o].texts, 1) for o in nearest[key]),
                default=0.0,
            )
            idf = np.log1p(len(groups) / used_by[phrase])
            scored.append((mine * idf * mine / (mine + theirs), phrase))
        scored.sort(key=lambda item: (-item[0], item[1]))
        shortlist[key] = [phrase for _, phrase in scored[:SHORTLIST]]
    return shortlist


def _firmest(
    phrases: list[str], group: _Group, vectors: np.ndarray, centre: np.ndarray, rivals: np.ndarray
) -> list[str]:
    """The ``FIT_SHORTLIST`` of ``phrases`` whose holding texts (``vectors``: one unit row per
    text) are nearest the group's ``centre`` against the ``rivals`` centroids on average, plus
    the coverage prior."""
    if len(vectors) != group.texts or not len(rivals):
        return phrases[:FIT_SHORTLIST]
    margin = vectors @ centre - (vectors @ rivals.T).max(axis=1)
    firmness = [
        float(np.mean(margin[group.holders[p]])) + COVERAGE * group.counts[p] / group.texts
        for p in phrases
    ]
    order = sorted(range(len(phrases)), key=lambda i: (-firmness[i], i))
    return [phrases[i] for i in order[:FIT_SHORTLIST]]


def _written(group: _Group, phrase: str) -> str:
    """The phrase as the texts spell it most often, its first letter capitalised."""
    spellings = group.spelling.get(phrase)
    written = spellings.most_common(1)[0][0] if spellings else phrase
    if written.isupper() and len(written) > 5:  # shouted, not an acronym
        written = written.lower()
    return written[:1].upper() + written[1:]


def _mmr(vectors: np.ndarray, scores: np.ndarray, first: int, count: int) -> list[int]:
    chosen = [first]
    while len(chosen) < min(count, len(scores)):
        similarity = (vectors @ vectors[chosen].T).max(axis=1)
        value = (1 - MMR_DIVERSITY) * scores - MMR_DIVERSITY * similarity
        value[chosen] = -np.inf
        chosen.append(int(np.argmax(value)))
    return chosen


def _is_task(phrase: str) -> bool:
    """A task verb and its object (never the verb alone)."""
    words = phrase.split()
    return len(words) > 1 and words[0] in TASK_VERBS


def _completed(phrase: str, group: _Group, max_words: int) -> str:
    """A task phrase with the next word most of its uses go on with ("Write a python" →
    "Write a python function"), where at least ``EXTEND_SHARE`` of them do; a word that
    starts a clause ("Write a story using") does not complete it."""
    if not _is_task(phrase) or len(phrase.split()) >= max_words:
        return phrase
    longer = [
        (count, p)
        for p, count in group.counts.items()
        if p.startswith(phrase + " ")
        and len(p.split()) == len(phrase.split()) + 1
        and not p.endswith(("ing", "ed"))
    ]
    count, best = max(longer, default=(0, phrase))
    return best if count >= EXTEND_SHARE * group.counts[phrase] else phrase


def _key(phrase: str) -> str:
    return " ".join(word.removesuffix("s") for word in phrase.casefold().split())


def rank_keyphrases(
    texts: dict[object, list[str]],
    centroids: dict[object, np.ndarray],
    embedder: Embedder,
    *,
    avoid: dict[object, list[str]] | None = None,
    taken: set[str] | None = None,
    text_vectors: dict[object, np.ndarray] | None = None,
    max_words: int = MAX_WORDS,
    coverage_weight: float = COVERAGE,
) -> dict[object, Keyphrases | None]:
    """Keyphrases of each group of ``texts`` (key → its texts) against the unit
    ``centroids`` of all groups (the same keys): the title first. ``avoid``: titles a group may
    not have (a parent's children's); ``taken``: titles no group may have; ``text_vectors``:
    the texts' own unit vectors, row for row (they narrow the phrases to embed);
    ``max_words``: the longest phrase; ``coverage_weight``: the score's weight of the share
    of a group's texts holding a phrase. A group without a single candidate phrase gets None."""
    stops = stop_words()
    keys = list(texts)
    centre = np.array([centroids[key] for key in keys], dtype=np.float32)
    centre /= np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-12)
    between = centre @ centre.T
    np.fill_diagonal(between, -np.inf)
    nearest = {
        key: np.argsort(-between[index], kind="stable")[: min(CONTRAST_GROUPS, len(keys) - 1)]
        for index, key in enumerate(keys)
    }
    groups = {key: _count(texts[key], stops, max_words) for key in keys}
    shortlist = _shortlist(groups, {key: [keys[i] for i in nearest[key]] for key in keys})
    if text_vectors is not None:
        shortlist = {
            key: _firmest(
                phrases,
                groups[key],
                np.asarray(text_vectors.get(key, []), dtype=np.float32).reshape(-1, len(centre[0])),
                centre[index],
                centre[nearest[key]],
            )
            for index, (key, phrases) in enumerate(shortlist.items())
        }
    distinct = sorted({p for phrases in shortlist.values() for p in phrases})
    if not distinct:
        return {key: None for key in keys}
    vectors = np.asarray(embedder.embed(distinct), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {p: i for i, p in enumerate(distinct)}
    ranked: dict[object, tuple[list[str], np.ndarray, np.ndarray]] = {}
    for index, key in enumerate(keys):
        phrases = shortlist[key]
        if not phrases:
            continue
        own = vectors[[row[p] for p in phrases]]
        closeness = own @ centre[index]
        others = nearest[key]
        rival = (own @ centre[others].T).max(axis=1) if len(others) else 0.0
        coverage = np.array([groups[key].counts[p] / max(groups[key].texts, 1) for p in phrases])
        task = np.array([_is_task(p) for p in phrases], dtype=np.float32)
        score = closeness - CONTRAST * rival + coverage_weight * coverage + TASK_BONUS * task
        order = np.argsort(-score, kind="stable")
        ranked[key] = ([phrases[i] for i in order], own[order], score[order])
    used = {_key(t) for t in (taken or set())}
    found: dict[object, Keyphrases | None] = {key: None for key in keys}
    chosen: dict[object, set[str]] = {}  # key → its title's content words
    for key in sorted(ranked, key=lambda k: (-ranked[k][2][0], keys.index(k))):
        phrases, own, score = ranked[key]
        own_avoid = {_key(t) for t in (avoid or {}).get(key, [])}
        free = [i for i, p in enumerate(phrases) if _key(p) not in used | own_avoid]
        if not free:
            continue
        siblings = set().union(*(chosen.get(keys[i], set()) for i in nearest[key]))
        best = next(
            (
                i
                for i in free
                if score[i] >= score[free[0]] - SIBLING_MARGIN
                and not set(_key(phrases[i]).split()) & siblings
            ),
            free[0],
        )
        used.add(_key(phrases[best]))
        chosen[key] = set(_key(phrases[best]).split()) - stops
        title = _completed(phrases[best], groups[key], max_words)
        used.add(_key(title))
        picks = _mmr(own, score, best, KEYPHRASES)
        group = groups[key]
        named = [title, *(phrases[i] for i in picks[1:])]
        found[key] = Keyphrases(
            _written(group, title),
            named,
            [group.counts[p] / max(group.texts, 1) for p in named],
        )
    return found
