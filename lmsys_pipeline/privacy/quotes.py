"""Quotes of user queries in labels, withheld before anything is published.

The offline summarizer quotes each cluster's most central query in its description (and in a
title when no word stands out), and an LLM may quote what it was shown. A published field keeps
its words but every quote of a representative query (whole, or cut with ``…`` as ``truncate``
writes it: ``maintenance/scrub.py`` finds both) becomes ``WITHHELD``. An index of the queries'
first ``MIN_CUT`` characters picks the few queries a field may quote, so a run of thousands of
clusters is checked in a moment rather than every query against every field.

A paraphrase escapes that: "Users ask: send the invoice for order 5 to jane@..." keeps the
query's words but not its characters. ``NearQuotes`` withholds too every run of ``RUN`` (6) or
more consecutive content words (lower case, stop words, punctuation and spacing left out) that
a field shares with any member query of its cluster (or of the clusters under a category).
Six words in the same order is what a quote keeps and what a topic's name rarely does: on the
offline titles of Banking77's and HWU64's intents it withholds none (benchmarks/privacy.py).
"""

import re
from collections import defaultdict
from collections.abc import Iterable

from lmsys_pipeline.maintenance.scrub import DELETED, MIN_CUT, MIN_FREE_MATCH, Scrubber, collapsed

WITHHELD = "[a user query, withheld]"


class QuoteFinder:
    def __init__(self, queries: Iterable[str]):
        self._heads: dict[str, set[str]] = defaultdict(set)
        self._short: dict[str, set[str]] = defaultdict(set)
        for query in queries:
            flat = collapsed(query)
            for form in {flat, flat.replace('"', "'")}:
                if len(form) >= MIN_CUT:
                    self._heads[form[:MIN_CUT]].add(query)
                elif form:
                    self._short[form].add(query)
        self._short_lengths = sorted({len(f) for f in self._short if len(f) >= MIN_FREE_MATCH})

    def _candidates(self, text: str) -> set[str]:
        found = set(self._short.get(text, ()))
        for i in range(len(text)):
            found.update(self._heads.get(text[i : i + MIN_CUT], ()))
            for length in self._short_lengths:
                found.update(self._short.get(text[i : i + length], ()))
        return found

    def withhold(self, value: str) -> tuple[str, bool]:
        """``value`` with every quoted query replaced by ``WITHHELD``, and whether any was."""
        if not value:
            return value, False
        candidates = self._candidates(collapsed(value))
        if not candidates:
            return value, False
        scrubbed = Scrubber(candidates).scrub(value, words=False)
        if scrubbed == value:
            return value, False
        return scrubbed.replace(DELETED, WITHHELD), True


# Near-verbatim quotes: a paraphrase keeps most of a query's words in order.
RUN = 6  # consecutive content tokens a field must share with a member query
WORD = re.compile(r"[^\W_]+")


def content_tokens(text: str, stops: frozenset[str]) -> list[tuple[str, int, int]]:
    """The words of ``text`` in lower case, stop words left out, each with its span; case,
    punctuation and whitespace do not count. A withheld quote is a barrier no run crosses."""
    found: list[tuple[str, int, int]] = []
    for part_start, part in _parts(text):
        for match in WORD.finditer(part):
            word = match.group(0).lower()
            if word not in stops:
                found.append((word, part_start + match.start(), part_start + match.end()))
        found.append(("", -1, -1))
    return found[:-1]


def _parts(text: str) -> list[tuple[int, str]]:
    """``text`` cut at every ``WITHHELD`` marker: (where each part starts, the part)."""
    parts, start = [], 0
    while (at := text.find(WITHHELD, start)) != -1:
        parts.append((start, text[start:at]))
        start = at + len(WITHHELD)
    parts.append((start, text[start:]))
    return parts


class NearQuotes:
    """Finds in public fields every run of ``RUN`` or more consecutive content tokens that a
    member query of the node (a query of the cluster, or of a cluster under the category)
    also holds, and withholds those runs as quotes.

    The fields' ``RUN``-grams are indexed first; each member query is then read once, and only
    its stretches of words that all occur in some field are cut into grams and looked up, so
    the pass costs about one tokenisation per query."""

    def __init__(self, fields: dict[tuple[int, str], str], stops: frozenset[str]):
        self._fields = fields
        self._stops = stops
        self._tokens = {key: content_tokens(text, stops) for key, text in fields.items()}
        self._grams: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
        for key, found in self._tokens.items():
            words = [w for w, *_ in found]
            for i in range(len(words) - RUN + 1):
                gram = tuple(words[i : i + RUN])
                if all(gram):
                    self._grams[gram].append(key)
        self._vocabulary = {w for gram in self._grams for w in gram}
        self._shared: set[tuple[tuple[int, str], tuple[str, ...]]] = set()

    def __bool__(self) -> bool:
        return bool(self._grams)

    def read(self, text: str, nodes: Iterable[int]) -> None:
        """One member query, and the nodes it belongs to (its cluster and the cluster's
        ancestors)."""
        words = [w for w in WORD.findall(text.lower()) if w not in self._stops]
        known = [w in self._vocabulary for w in words]
        targets = None
        start = 0
        for end in range(len(words) + 1):
            if end < len(words) and known[end]:
                continue
            for i in range(start, end - RUN + 1):
                for key in self._grams.get(tuple(words[i : i + RUN]), ()):
                    targets = set(nodes) if targets is None else targets
                    if key[0] in targets:
                        self._shared.add((key, tuple(words[i : i + RUN])))
            start = end + 1

    def withheld(self) -> dict[tuple[int, str], str]:
        """The fields that shared a run with a member query, each with its runs (from the
        first to the last word, what lies between included) replaced by ``WITHHELD``."""
        changed = {}
        for key, found in self._tokens.items():
            words = [w for w, *_ in found]
            covered = [False] * len(found)
            for i in range(len(words) - RUN + 1):
                if (key, tuple(words[i : i + RUN])) in self._shared:
                    covered[i : i + RUN] = [True] * RUN
            if not any(covered):
                continue
            text, spans, i = self._fields[key], [], 0
            while i < len(found):
                if not covered[i]:
                    i += 1
                    continue
                j = i
                while j + 1 < len(found) and covered[j + 1]:
                    j += 1
                spans.append((found[i][1], found[j][2]))
                i = j + 1
            for start, end in reversed(spans):
                text = text[:start] + WITHHELD + text[end:]
            changed[key] = text
        return changed
