"""Where every ``lmsys`` command prints: consoles that print text from data literally (no
markup, no control characters), and JSON for ``--json``."""

import json
import unicodedata
from typing import Any

from rich.console import Console

# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(character: str) -> str:
    if character in "\n\t":
        return character
    if unicodedata.category(character) == "Cc" or character in _BIDI_CONTROLS:
        return character.encode("unicode_escape").decode("ascii")
    return character


def visible(text: str) -> str:
    """``text`` with control characters (ESC, BEL, bidi overrides ...) shown as escapes: text
    that came from a dataset never drives the terminal. Newlines and tabs stay."""
    if text.isprintable() and not _BIDI_CONTROLS.intersection(text):
        return text
    return "".join(_shown(c) for c in text)


class LiteralConsole(Console):
    """Prints every string literally: no Rich markup (``markup=False``: ``[/bold]`` or
    ``[link=...]`` in a query is text) and no control characters. Every string a command prints,
    table cells and titles included, goes through ``render_str``; styles come from ``style=``.

    Lines are cut to the width only on a terminal: a pipe or a file has no width of its own,
    so a table that needs more than the nominal width (``cli/tables.py``) is printed whole."""

    def render_str(self, text: str, **kwargs):
        return super().render_str(visible(text), **kwargs)

    def print(self, *objects: Any, crop: bool | None = None, **kwargs: Any) -> None:
        super().print(*objects, crop=self.is_terminal if crop is None else crop, **kwargs)


console = LiteralConsole(markup=False, highlight=False)
error_console = LiteralConsole(stderr=True, soft_wrap=True, markup=False, highlight=False)


def print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str))
