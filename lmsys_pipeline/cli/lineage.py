"""``lmsys diff`` (how the clusters of one run relate to another's) and ``lmsys trends``
(queries per cluster and period); both read the database directly."""

from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console, print_json
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database
from lmsys_pipeline.cli.tables import titled_table

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


@app.command()
def trends(
    run_id: Annotated[str, typer.Argument(help="The clustering run.")],
    alias: Annotated[
        str | None, typer.Option(help="Titles from this alias (default: the latest).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="day, week or month.")] = "week",
    top: Annotated[int | None, typer.Option(min=1, help="Only the N fastest growing.")] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queries per cluster and period (the conversation's own time where the source had
    one, else when it was loaded) and the change in the last period; fastest growing first."""
    from lmsys_pipeline.reading.choice import choose_summary_run
    from lmsys_pipeline.reading.trends import trends as read_trends

    db = database(db_url)
    report = read_trends(db, run_id, choose_summary_run(db, run_id, alias=alias), by=by, top=top)
    if as_json:
        print_json(report.as_dict())
        return
    shown = report.periods[-6:]
    table = titled_table(
        f"{run_id}: queries per {by} (last {len(shown)} of {len(report.periods)})",
        [
            ("cluster", "right"),
            *((p, "right") for p in shown),
            ("change", "right"),
            ("title", "left"),
        ],
    )
    for cluster in report.clusters:
        table.add_row(
            str(cluster.cluster_id),
            *(f"{n:,}" for n in cluster.counts[-len(shown) :]),
            f"{cluster.change:+,}",
            cluster.title or "",
        )
    console.print(table)
    if report.set_aside:
        console.print(
            f"{report.set_aside:,} queries set aside: no plausible time (before "
            f"{report.window[0][:10]}, after {report.window[1]} UTC, or set aside at load)."
        )
