"""The tables commands print: ids, aliases and numbers are never broken over lines; long text
folds to fit instead.

A column is one of three kinds (``Table.add_column(kind=...)``):

- ``WHOLE`` never wraps: ids, names, numbers (every right-justified column, unless told);
- ``WORDS`` wraps between words only: a list of aliases, a timestamp, a status;
- ``TEXT`` wraps between words and folds a word longer than the column: titles, descriptions,
  queries (every other column, unless told).

When a table is wider than the console, its columns give up width, the widest first, down to
their least: ``WHOLE``, their widest cell (a long header wraps); ``WORDS``, their longest word;
``TEXT``, ``TEXT_MIN`` characters. When even that is too wide, a pipe or a file gets
lines as long as the table needs (it has no width to keep; ``console.py`` does not cut them);
a terminal, which cuts longer lines, gets every column folded, the widest cut first.
"""

import copy
from typing import Any, Literal

from rich import table as rich_table
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from lmsys_pipeline.cli.console import console, visible

Kind = Literal["whole", "words", "text"]
WHOLE: Kind = "whole"
WORDS: Kind = "words"
TEXT: Kind = "text"
TEXT_MIN = 12


class Table(rich_table.Table):
    """A Rich table whose columns have a kind (see the module's note)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.kinds: list[Kind] = []
        super().__init__(*args, **kwargs)

    def add_column(self, header: Any = "", *args: Any, kind: Kind | None = None, **kwargs: Any):
        kind = kind or (WHOLE if kwargs.get("justify") == "right" else TEXT)
        if kind == WHOLE:
            kwargs["no_wrap"] = True
            if isinstance(header, str):  # the cells stay whole, a long header may wrap
                header = Text(visible(header), no_wrap=False, overflow="fold")
        else:
            kwargs.setdefault("overflow", "fold")
        super().add_column(header, *args, **kwargs)
        self.kinds.append(kind)

    def _kind(self, index: int) -> Kind:
        """A column given as a ``Column`` (not through ``add_column``) is text."""
        return self.kinds[index] if index < len(self.kinds) else TEXT

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fitted, options = self._fitted(console, options)
        yield from rich_table.Table.__rich_console__(fitted, console, options)

    def _fitted(
        self, console: Console, options: ConsoleOptions
    ) -> tuple[rich_table.Table, ConsoleOptions]:
        """This table with a fixed width for every column when it does not fit ``options``'
        width as it is, and the options to render it with."""
        if self.width is not None or self.expand or not self.columns:
            return self, options
        unbounded = options.update_width(10**6)
        natural, least = [], []
        for index, column in enumerate(self.columns):
            cells = [Measurement.get(console, unbounded, cell) for cell in column.cells]
            header = [Measurement.get(console, unbounded, column.header)] * self.show_header
            widest = max((size.maximum for size in [*header, *cells]), default=0)
            words = max((size.minimum for size in [*header, *cells]), default=0)
            natural.append(widest)
            kind = self._kind(index)
            if kind == WHOLE:
                least.append(max(words, max((size.maximum for size in cells), default=0)))
            elif kind == WORDS:
                least.append(words)
            else:
                least.append(min(widest, TEXT_MIN))
        overhead = Measurement.get(console, unbounded, self).maximum - sum(natural)
        available = options.max_width - overhead
        if sum(natural) <= available:
            return self, options
        squeezed = sum(least) > available
        if squeezed and not console.is_terminal:
            available = sum(least)
            options = options.update_width(available + overhead)
        elif squeezed:
            if available < len(least):
                return self, options
            least = [1] * len(least)
        fitted = copy.copy(self)
        fitted.columns = [copy.copy(column) for column in self.columns]
        for column, width in zip(fitted.columns, _levelled(natural, least, available), strict=True):
            column.width = width
            if squeezed and console.is_terminal:
                column.no_wrap, column.overflow = False, "fold"
        return fitted, options


def _levelled(natural: list[int], least: list[int], available: int) -> list[int]:
    """Widths within ``available`` (at least ``sum(least)``): the widest columns are cut to a
    common level, none below its least; what is left over goes to the first cut columns."""

    def at(level: int) -> list[int]:
        return [max(lo, min(n, level)) for n, lo in zip(natural, least, strict=True)]

    level = max(natural, default=0)
    while level > 0 and sum(at(level)) > available:
        level -= 1
    widths = at(level)
    spare = available - sum(widths)
    for index, width in enumerate(widths):
        if spare > 0 and width < natural[index]:
            widths[index] += 1
            spare -= 1
    return widths


def titled_table(title: str, columns: list[tuple[str, str] | tuple[str, str, Kind]]) -> Table:
    """A table with ``(name, justify)`` or ``(name, justify, kind)`` columns."""
    table = Table(title=title)
    for name, justify, *kind in columns:
        table.add_column(name, justify=justify, kind=kind[0] if kind else None)
    return table


def show_metadata_table(title: str, metadata: dict[str, Any], keys: tuple[str, ...]) -> None:
    table = titled_table(title, [("what", "left", WHOLE), ("value", "right", TEXT)])
    for key in keys:
        table.add_row(key, f"{metadata.get(key)}")
    console.print(table)
