"""Trends in the published report: queries per week for each top-level public category, with
no cell that reveals a small count.

Counts are ``lmsys trends``'s (``reading/trends.period_counts`` over the run's assignments:
the conversation's own time, else when it was loaded); a query is one conversation's first
message, so a count is distinct conversations. Each cluster counts for the top-level node the
published tree shows it under (a small cluster folded into its parent counts for that parent's
top level; one folded into "Other (small clusters)", noise included, for Other).

A cell (category x week) below ``min_conversations`` is suppressed (``None``), never shown as
a small number. Since a category's total is published, the suppressed cells of a row add up to
what is left of it: when that sum is above zero but below the threshold, the row's smallest
shown cells are suppressed too until it is not (secondary suppression), so no small count is
ever derivable from the published numbers. Queries with no plausible time are counted only when
they are at least the threshold too.
"""

from dataclasses import dataclass, field

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.privacy.threshold import OTHER_TITLE, Folding
from lmsys_pipeline.reading.trends import period_counts, times_table

BY = "week"


@dataclass
class TrendRow:
    """One top-level public node (``node_id`` None: Other), its counts per period."""

    node_id: int | None
    counts: list[int | None]


@dataclass
class PublicTrends:
    by: str
    periods: list[str]
    rows: list[TrendRow] = field(default_factory=list)
    suppressed_cells: int = 0
    set_aside: int | None = None  # None: below the threshold, not shown


def suppress(counts: list[int], minimum: int) -> list[int | None]:
    """``counts`` with every cell below ``minimum`` suppressed (an empty cell, 0, is shown), and
    then the smallest shown cells while the suppressed cells add up to more than 0 and less
    than ``minimum``."""
    shown: list[int | None] = [n if n == 0 or n >= minimum else None for n in counts]
    hidden = sum(n for n, s in zip(counts, shown, strict=True) if s is None)
    while 0 < hidden < minimum:
        visible = [(n, i) for i, n in enumerate(shown) if n]
        if not visible:
            break
        n, i = min(visible)
        shown[i] = None
        hidden += n
    return shown


def _owner(node_id: int, into: dict[int, int | None], parents: dict[int, int | None]) -> int | None:
    """The top-level public node ``node_id`` counts for in the published tree (None: Other).
    ``into``: where each folded node was folded (None: Other)."""
    current: int | None = node_id
    while current is not None and current in into:
        current = into[current]
    while current is not None and parents.get(current) is not None:
        current = parents[current]
    return current


def public_trends(
    db: DatabaseManager,
    run_id: str,
    folding: Folding,
    parents: dict[int, int | None],
    roots: list[int],
) -> PublicTrends:
    """Weekly counts for each public top-level node in ``roots`` (their order) and Other.
    ``parents``: each node's parent in the tree (None at the top)."""
    periods, counts, set_aside = period_counts(times_table(db, run_id), BY)
    minimum = folding.min_conversations
    summed: dict[int | None, list[int]] = {r: [0] * len(periods) for r in [*roots, None]}
    public = set(folding.public)
    into = {f.node_id: f.into for f in folding.folded}
    for cluster, values in counts.items():
        owner = _owner(cluster, into, parents) if cluster in parents else None
        key = owner if owner in public else None
        row = summed.setdefault(key, [0] * len(periods))
        for i, n in enumerate(values):
            row[i] += n
    trends = PublicTrends(BY, periods, set_aside=set_aside if set_aside >= minimum else None)
    for node_id, values in summed.items():
        if node_id is None and not any(values):
            continue
        shown = suppress(values, minimum)
        trends.suppressed_cells += sum(s is None for s in shown)
        trends.rows.append(TrendRow(node_id, shown))
    return trends


def trends_report(trends: PublicTrends, titles: dict[int, str], minimum: int) -> dict:
    """The trends as ``report.json`` holds them."""
    return {
        "by": trends.by,
        "periods": trends.periods,
        "rows": [
            {
                "title": OTHER_TITLE if row.node_id is None else titles.get(row.node_id, ""),
                "counts": row.counts,
            }
            for row in trends.rows
        ],
        "suppressed_cells": trends.suppressed_cells,
        "suppressed_why": f"fewer than {minimum} conversations in the {trends.by}, or needed "
        "so that no such count can be worked out from the row's total",
        "no_plausible_time": trends.set_aside,
    }
