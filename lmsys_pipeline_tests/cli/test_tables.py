"""How the commands' tables fit a width: ids and numbers whole, words whole, text folded."""

import io

from lmsys_pipeline.cli.console import LiteralConsole
from lmsys_pipeline.cli.tables import WHOLE, WORDS, titled_table

RUN_ID = "hdbscan-12-20250101-000000"
TEXT = "a description long enough that it has to fold over several lines of the table"


def printed(table, width: int, terminal: bool) -> list[str]:
    out = io.StringIO()
    LiteralConsole(
        file=out, width=width, force_terminal=terminal, color_system=None, markup=False
    ).print(table)
    return out.getvalue().splitlines()


def runs_table():
    table = titled_table(
        "runs",
        [
            ("run id", "left", WHOLE),
            ("aliases", "left", WORDS),
            ("queries in the run", "right"),
            ("description", "left"),
        ],
    )
    table.add_row(RUN_ID, "gpt-4o-mini, claude-sonnet", "1,234,567", TEXT)
    return table


def cells(lines: list[str]) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]


def test_a_table_that_fits_is_printed_as_it_is():
    lines = printed(runs_table(), 200, terminal=True)
    assert [RUN_ID, "gpt-4o-mini, claude-sonnet", "1,234,567", TEXT] in cells(lines)


def test_on_a_narrow_terminal_text_folds_and_ids_words_and_numbers_stay_whole():
    lines = printed(runs_table(), 80, terminal=True)
    assert max(len(line) for line in lines) <= 80
    rows = cells(lines)
    assert rows[0][:3] == [RUN_ID, "gpt-4o-mini,", "1,234,567"]
    assert rows[1][1] == "claude-sonnet"
    description = [row[3] for row in rows]
    assert len(description) > 2 and " ".join(description).split() == TEXT.split()
    headers = [line for line in lines if "┃" in line]
    assert len(headers) > 1  # the long header of a number column wraps instead of its cells


def test_in_a_pipe_narrower_than_the_ids_lines_grow_instead_of_breaking_them():
    lines = printed(runs_table(), 40, terminal=False)
    assert max(len(line) for line in lines) > 40
    rows = cells(lines)
    assert rows[0][:3] == [RUN_ID, "gpt-4o-mini,", "1,234,567"]
    assert all(len(row[3]) <= 12 for row in rows)  # text folds down to TEXT_MIN


def test_on_a_terminal_narrower_than_the_ids_every_column_folds_and_nothing_is_cut():
    lines = printed(runs_table(), 40, terminal=True)
    assert max(len(line) for line in lines) <= 40
    columns = list(zip(*cells(lines), strict=True))
    assert "".join(columns[0]) == RUN_ID
    assert "".join(columns[2]) == "1,234,567"
    assert "".join(columns[3]).replace(" ", "") == TEXT.replace(" ", "")
