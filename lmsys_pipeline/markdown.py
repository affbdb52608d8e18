"""Small markdown renderers for Dagster metadata and CLI output."""

from collections.abc import Mapping

TOP_N = 10


def counts_table(counts: Mapping[str, int], label: str, top: int = TOP_N) -> str:
    """A two-column markdown table of the largest counts, with their share of the total."""
    total = sum(counts.values())
    if not total:
        return f"_no {label} counted_"
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:top]
    lines = [f"| {label} | count | share |", "|---|---:|---:|"]
    lines += [f"| {name} | {count:,} | {count / total:.1%} |" for name, count in ranked]
    return "\n".join(lines)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A markdown table; cells have pipes and newlines escaped."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
