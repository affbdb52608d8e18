"""``lmsys diff``: how the clusters of one run relate to another's (read from the database)."""

from typing import Annotated

import typer

from lmsys_pipeline.cli.common import DbUrlOption, JsonOption, app, console, database, print_json

SECTIONS = (
    ("new", "New clusters"),
    ("gone", "Gone clusters"),
    ("split", "Split"),
    ("merged", "Merged"),
    ("grown", "Grown (share of the run)"),
    ("shrunk", "Shrunk (share of the run)"),
)


def _side(side) -> str:
    title = f" {side.title!r}" if side.title else ""
    return f"cluster {side.cluster_id} ({side.size:,} queries){title}"


def _line(name: str, change) -> str:
    if name == "new":
        return f"{_side(change.after[0])}, nearest earlier centroid cosine {change.cosine:.2f}"
    if name == "gone":
        return f"{_side(change.before[0])}"
    if name in ("grown", "shrunk"):
        return (
            f"{_side(change.before[0])} -> {_side(change.after[0])}: "
            f"{change.share_before:.1%} -> {change.share_after:.1%} of the run"
        )
    return (
        " + ".join(_side(s) for s in change.before)
        + " -> "
        + " + ".join(_side(s) for s in change.after)
    )


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier clustering run.")],
    run_b: Annotated[str, typer.Argument(help="The later clustering run.")],
    alias: Annotated[
        str | None,
        typer.Option(help="Titles from this alias on both runs (default: each run's latest)."),
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """New, gone, split, merged, grown and shrunk clusters between two runs of the same
    embedding model, matched by shared queries (Jaccard) and centroid cosine."""
    from lmsys_pipeline.lineage.report import diff_report

    report = diff_report(database(db_url), run_a, run_b, alias=alias)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.run_a} ({report.queries_a:,} queries) -> {report.run_b} "
        f"({report.queries_b:,} queries)",
        style="bold",
    )
    console.print(
        f"titles: {report.titles_a or 'none'} / {report.titles_b or 'none'}; "
        + ", ".join(f"{kind} {count}" for kind, count in report.counts.items())
    )
    for name, heading in SECTIONS:
        changes = report.sections[name]
        console.print(f"\n{heading}: {len(changes)}", style="bold")
        for change in changes:
            console.print(f"  {_line(name, change)}")
