"""Finding and removing a deleted query's text where summaries and cached answers quote it.

Labels quote queries whole or cut (``truncate`` ends a cut with ``…``); the offline keyword
summarizer puts its most central query in double quotes, with ``"`` turned into ``'``. A mention
is the whole (whitespace-collapsed) text, or a cut of it of at least ``MIN_CUT`` characters that
ends in ``…``. Texts shorter than ``MIN_FREE_MATCH`` are only matched as a whole quoted string
or a whole field, so that deleting "hi" does not rewrite every label containing "hi".
"""

import re
from collections.abc import Iterable

DELETED = "[deleted query]"
MIN_CUT = 20
MIN_FREE_MATCH = 12
ELLIPSIS = "…"
QUOTES = ('"', "'", "“", "”", "«", "»")


def collapsed(text: str) -> str:
    return " ".join(text.split())


def _forms(texts: Iterable[str]) -> list[str]:
    forms = set()
    for text in texts:
        flat = collapsed(text)
        if flat:
            forms.update((flat, flat.replace('"', "'")))
    return sorted(forms, key=len, reverse=True)


class Scrubber:
    """Replaces every mention of the given texts with ``[deleted query]``."""

    def __init__(self, texts: Iterable[str]):
        self.forms = _forms(texts)
        cut_heads = {form[:MIN_CUT] for form in self.forms if len(form) > MIN_CUT}
        wholes = {form for form in self.forms}
        self._candidate = (
            re.compile("|".join(re.escape(part) for part in sorted(cut_heads | wholes, key=len)))
            if self.forms
            else None
        )

    def mentions(self, value: str | None) -> bool:
        return bool(value) and self.scrub(value) != value

    def scrub(self, value: str) -> str:
        if self._candidate is None or not self._candidate.search(collapsed(value)):
            return value
        text = collapsed(value)
        for form in self.forms:
            text = self._whole(text, form)
            if len(form) > MIN_CUT:
                text = self._cuts(text, form)
        return text if text != collapsed(value) else value

    @staticmethod
    def _whole(text: str, form: str) -> str:
        if text == form:
            return DELETED
        if len(form) >= MIN_FREE_MATCH:
            return text.replace(form, DELETED)
        for opening in QUOTES:
            for closing in QUOTES:
                text = text.replace(f"{opening}{form}{closing}", f"{opening}{DELETED}{closing}")
        return text

    @staticmethod
    def _cuts(text: str, form: str) -> str:
        """``form`` cut short and ended with an ellipsis, as ``truncate`` writes it."""
        head = form[:MIN_CUT]
        end = text.find(ELLIPSIS)
        while end != -1:
            start = text.rfind(head, 0, end)
            if start != -1 and form.startswith(text[start:end]):
                text = text[:start] + DELETED + text[end + 1 :]
                end = text.find(ELLIPSIS, start + len(DELETED))
            else:
                end = text.find(ELLIPSIS, end + 1)
        return text
