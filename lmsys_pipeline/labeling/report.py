"""What every alias run's materialization shows of its ledger row: its spend and its
failures, kept small however many there were."""

from typing import Any

from lmsys_pipeline.markdown import table

MAX_TABLE_ROWS = 200
# What a run spent, as its ledger row counts it (both ledgers have these columns).
SPEND_FIELDS = (
    "requests",
    "cached_responses",
    "tokens_in",
    "tokens_out",
    "estimated_cost_usd",
    "seconds",
)


def spend(entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in SPEND_FIELDS}


def _failure_order(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.lstrip("-").isdigit() else (1, 0, key)


def failures_table(
    failures: dict[str, str], what: str = "cluster", limit: int = MAX_TABLE_ROWS
) -> str:
    """The first ``limit`` failures (by cluster id, or by name for other keys) and how many
    more there were: the metadata of a run where everything failed stays small."""
    if not failures:
        return "_none_"
    ranked = sorted(failures.items(), key=lambda item: _failure_order(item[0]))
    note = f"\n\n_{len(ranked) - limit} more not shown_" if len(ranked) > limit else ""
    return table([what, "why it failed"], [list(item) for item in ranked[:limit]]) + note
