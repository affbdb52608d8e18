"""Quotes of user queries in labels, withheld before anything is published.

The offline summarizer quotes each cluster's most central query in its description (and in a
title when no word stands out), and an LLM may quote what it was shown. A published field keeps
its words but every quote of a representative query (whole, or cut with ``…`` as ``truncate``
writes it: ``maintenance/scrub.py`` finds both) becomes ``WITHHELD``. An index of the queries'
first ``MIN_CUT`` characters picks the few queries a field may quote, so a run of thousands of
clusters is checked in a moment rather than every query against every field.
"""

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
