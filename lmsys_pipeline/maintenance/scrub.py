"""Finding and removing a deleted query's text where summaries and cached answers quote it.

Labels quote queries whole or cut (``truncate`` ends a cut with ``…``); the offline keyword
summarizer puts its most central query in double quotes, with ``"`` turned into ``'``. A mention
is the whole (whitespace-collapsed) text, or a cut of it of at least ``MIN_CUT`` characters that
ends in ``…``. Texts shorter than ``MIN_FREE_MATCH`` are only matched as a whole quoted string
or a whole field, so that deleting "hi" does not rewrite every label containing "hi".

A label may also quote a single word of a deleted text: an order number, an address, a name.
Given ``held_elsewhere`` (is this token in a remaining query?), the scrubber also replaces
every *distinctive* token of the deleted texts — one that no remaining query of the database
holds — with ``[deleted]``. Tokens (``tokens``) are compared in lower case: e-mail addresses
whole, every run of letters and digits, and within such a run its runs of letters and of
digits (``ZEBRAQUOKKA42`` gives ``zebraquokka42`` and ``zebraquokka``), each of at least
``MIN_TOKEN`` characters. Words that remaining queries still hold stay, so a label keeps its
meaning ("[deleted] card refunds").
"""

import re
from collections.abc import Callable, Iterable

DELETED = "[deleted query]"
DELETED_WORD = "[deleted]"
MIN_TOKEN = 3
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WORD = re.compile(r"[^\W_]+")
PART = re.compile(r"[^\W\d_]+|\d+")
EMAIL_OR_WORD = re.compile(f"(?P<email>{EMAIL.pattern})|(?P<word>{WORD.pattern})")
MARKERS = re.compile(f"({re.escape(DELETED)}|{re.escape(DELETED_WORD)})")
MIN_CUT = 20
MIN_FREE_MATCH = 12
ELLIPSIS = "…"
QUOTES = ('"', "'", "“", "”", "«", "»")


def collapsed(text: str) -> str:
    return " ".join(text.split())


def tokens(text: str) -> set[str]:
    """The lower-cased tokens of ``text`` that a deletion may scrub (see the module's note)."""
    found = {email.lower() for email in EMAIL.findall(text)}
    for word in WORD.findall(text):
        found.add(word.lower())
        found.update(part.lower() for part in PART.findall(word))
    return {token for token in found if len(token) >= MIN_TOKEN}


def _forms(texts: Iterable[str]) -> list[str]:
    forms = set()
    for text in texts:
        flat = collapsed(text)
        if flat:
            forms.update((flat, flat.replace('"', "'")))
    return sorted(forms, key=len, reverse=True)


class Scrubber:
    """Replaces every mention of the given texts with ``[deleted query]`` and, given
    ``held_elsewhere``, each of their distinctive tokens with ``[deleted]``."""

    def __init__(self, texts: Iterable[str], held_elsewhere: Callable[[str], bool] | None = None):
        texts = list(texts)
        self.forms = _forms(texts)
        self._tokens = set().union(*map(tokens, texts)) if held_elsewhere else set()
        self._held_elsewhere = held_elsewhere
        self._distinctive: dict[str, bool] = {}
        cut_heads = {form[:MIN_CUT] for form in self.forms if len(form) > MIN_CUT}
        wholes = {form for form in self.forms}
        self._candidate = (
            re.compile("|".join(re.escape(part) for part in sorted(cut_heads | wholes, key=len)))
            if self.forms
            else None
        )

    def mentions(self, value: str | None) -> bool:
        return bool(value) and self.scrub(value) != value

    def scrub(self, value: str, *, words: bool = True) -> str:
        """``value`` without quotes of the deleted texts and, unless ``words`` is False (a
        field that names things rather than describes them), without distinctive tokens."""
        if self._candidate is None or not self._candidate.search(collapsed(value)):
            return self._scrub_tokens(value) if words else value
        text = collapsed(value)
        for form in self.forms:
            text = self._whole(text, form)
            if len(form) > MIN_CUT:
                text = self._cuts(text, form)
        text = text if text != collapsed(value) else value
        return self._scrub_tokens(text) if words else text

    def distinctive(self, token: str) -> bool:
        """A token of the deleted texts that no remaining query holds (asked once each)."""
        if token not in self._tokens or self._held_elsewhere is None:
            return False
        if token not in self._distinctive:
            self._distinctive[token] = not self._held_elsewhere(token)
        return self._distinctive[token]

    def _scrub_tokens(self, value: str) -> str:
        if not self._tokens or not value:
            return value
        pieces = MARKERS.split(value)  # the markers' own words are never scrubbed
        for i in range(0, len(pieces), 2):
            pieces[i] = self._tokens_in(pieces[i])
        return "".join(pieces)

    def _tokens_in(self, text: str) -> str:
        return EMAIL_OR_WORD.sub(self._email_or_word, text)

    def _email_or_word(self, match: re.Match) -> str:
        if match.lastgroup == "word":
            return self._word(match)
        if self.distinctive(match.group().lower()):
            return DELETED_WORD
        return WORD.sub(self._word, match.group())

    def _word(self, match: re.Match) -> str:
        word = match.group()
        if self.distinctive(word.lower()):
            return DELETED_WORD
        return PART.sub(
            lambda part: DELETED_WORD if self.distinctive(part.group().lower()) else part.group(),
            word,
        )

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
