"""Commands that read results: runs, clusters, summaries and status. They query the
database directly (nothing to record in Dagster) and all take ``--json``."""

from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app, fail
from lmsys_pipeline.cli.console import console, print_json
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database
from lmsys_pipeline.cli.tables import WHOLE, WORDS, titled_table

AliasOption = Annotated[
    str | None, typer.Option(help="Titles from this alias's latest summary run.")
]
SummaryRunOption = Annotated[
    str | None, typer.Option("--summary-run-id", help="Titles from this summary run.")
]
RunIdArgument = Annotated[str, typer.Argument(help="The clustering run id.")]
HierarchyRunOption = Annotated[
    str | None,
    typer.Option(
        "--hierarchy-run-id",
        help="Parents from this hierarchy run (default: the latest built on the titles used).",
    ),
]


def summary_choice(db, run_id: str, alias: str | None, summary_run_id: str | None):
    from lmsys_pipeline.reading.choice import choose_summary_run

    if alias and summary_run_id:
        fail("Give --alias or --summary-run-id, not both.")
    return choose_summary_run(db, run_id, alias=alias, summary_run_id=summary_run_id)


@app.command()
def runs(
    latest: Annotated[bool, typer.Option(help="Only the newest run.")] = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Clustering runs, newest first, with their clusters, queries, noise and aliases, and
    the label measures of each alias's titles and parents."""
    from lmsys_pipeline.labeling.measures import measures_line
    from lmsys_pipeline.reading.runs import list_runs

    found = list_runs(database(db_url), latest=latest)
    if as_json:
        print_json([run.as_dict() for run in found])
        return
    table = titled_table(
        f"{len(found)} clustering runs",
        [
            ("run id", "left", WHOLE),
            ("algorithm", "left", WORDS),
            ("clusters", "right"),
            ("queries", "right"),
            ("noise", "right"),
            ("created (UTC)", "left", WORDS),
            ("status", "left", WORDS),
            ("aliases", "left", WORDS),
            ("label measures", "left", WORDS),
            ("description", "left"),
        ],
    )
    for run in found:
        table.add_row(
            run.run_id,
            run.algorithm,
            str(run.num_clusters or ""),
            f"{run.num_queries:,}",
            f"{run.noise_share:.1%}",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.status,
            ", ".join(run.aliases),
            "\n".join(
                f"{alias} {kind}: {measures_line(measures)}"
                for alias, found in sorted(run.label_measures.items())
                for kind, measures in found.items()
            ),
            run.description or "",
        )
    console.print(table)


@app.command("list-clusters")
def list_clusters(
    run_id: RunIdArgument,
    alias: AliasOption = None,
    summary_run_id: SummaryRunOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the N largest.")] = None,
    show_examples: Annotated[
        int, typer.Option(min=0, help="Most central queries per cluster.")
    ] = 0,
    level: Annotated[
        int | None,
        typer.Option(min=1, help="Group the clusters under their parents at this level."),
    ] = None,
    hierarchy_run_id: HierarchyRunOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Clusters by size with title and description; without a choice, from the run's latest
    summary run by generated_at (the command says which it used). With --level, grouped
    under their parents at that level of the alias's latest hierarchy."""
    from lmsys_pipeline.reading.clusters import list_clusters as read_clusters

    db = database(db_url)
    choice = summary_choice(db, run_id, alias, summary_run_id)
    rows = read_clusters(db, run_id, choice, limit=limit, show_examples=show_examples)
    if level is not None:
        from lmsys_pipeline.cli.hierarchy import print_grouped

        print_grouped(db, run_id, choice, hierarchy_run_id, rows, level, as_json)
        return
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "summary_run": choice.as_dict() if choice else None,
                "clusters": [row.as_dict() for row in rows],
            }
        )
        return
    used = (
        f"titles from {choice.summary_run_id} (alias {choice.alias}, {choice.model}; "
        f"{choice.chosen_by})"
        if choice
        else "no summary run yet: lmsys summarize adds titles"
    )
    console.print(f"{run_id}: {used}", style="bold")
    columns = [
        ("cluster", "right"),
        ("queries", "right"),
        ("share", "right"),
        ("title", "left"),
        ("description", "left"),
    ]
    any_marks = any(_marks(row) for row in rows)
    if any_marks:
        columns.append(("analysts' marks", "left"))
    if show_examples:
        columns.append(("most central queries", "left"))
    table = titled_table(f"{len(rows)} clusters by size", columns)
    for row in rows:
        cells = [
            str(row.cluster_id),
            f"{row.size:,}",
            f"{row.share:.1%}",
            row.title or "",
            row.description or "",
        ]
        if any_marks:
            cells.append(_marks(row))
        if show_examples:
            cells.append("\n".join(f"• {q[:100]}" for q in row.examples))
        table.add_row(*cells)
    console.print(table)


def _marks(row) -> str:
    """Tags (#), flags (!) and the rating an analyst gave a cluster, in one line."""
    rating = [
        *([f"quality {row.quality}"] if row.quality else []),
        *([f"coherence {row.coherence}/5"] if row.coherence is not None else []),
    ]
    return ", ".join([*(f"#{t}" for t in row.tags), *(f"!{f}" for f in row.flags), *rating])


def _facet_line(facets) -> str:
    return ", ".join(f"{f.value} x{f.lift:g} ({f.count})" for f in facets) or "none"


# ignore_unknown_options: "-1" (HDBSCAN noise) is the cluster id, not an option.
@app.command(context_settings={"ignore_unknown_options": True})
def inspect(
    run_id: RunIdArgument,
    cluster_id: Annotated[int, typer.Argument(help="The cluster id (-1: HDBSCAN noise).")],
    alias: AliasOption = None,
    show_queries: Annotated[
        int, typer.Option(min=0, help="Sample queries, most central first.")
    ] = 10,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """One cluster: title, description, size, confidence, languages and models (with the ones
    over-represented against the whole run), and its most central queries."""
    from lmsys_pipeline.reading.clusters import cluster_detail

    db = database(db_url)
    detail = cluster_detail(db, run_id, cluster_id, alias=alias, show_queries=show_queries)
    if as_json:
        print_json(detail.as_dict())
        return
    source = (
        f"{detail.summary.summary_run_id} ({detail.summary.alias})"
        if detail.summary
        else "no summary run"
    )
    console.print(f"{run_id} / cluster {cluster_id}: {detail.title or '(no title)'}", style="bold")
    console.print(
        f"{detail.description or ''}\n"
        f"  size: {detail.size:,} queries ({detail.share:.1%} of the run); "
        f"titles from {source}\n  confidence: {detail.confidence}\n"
        f"  languages: {dict(list(detail.languages.items())[:8])}\n"
        f"  over-represented languages: {_facet_line(detail.language_lift)}\n"
        f"  models: {dict(list(detail.models.items())[:8])}\n"
        f"  over-represented models: {_facet_line(detail.model_lift)}"
    )
    if _marks(detail):
        console.print(f"  analysts' marks: {_marks(detail)}")
    if detail.notes:
        console.print(f"  notes: {detail.notes}")
    table = titled_table("most central queries", [("#", "right"), ("query", "left")])
    for number, query in enumerate(detail.queries, 1):
        table.add_row(str(number), query[:300])
    console.print(table)


@app.command()
def compare(
    run_id: RunIdArgument,
    alias: Annotated[
        list[str], typer.Option("--alias", help="An alias to compare (give two or more).")
    ],
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Titles of two or more aliases side by side per cluster, with each alias's label
    quality (held-out queries matched to their cluster's label; chance 1/6)."""
    from lmsys_pipeline.reading.clusters import compare_aliases

    if len(alias) < 2:
        fail("Give at least two aliases: --alias A --alias B.")
    db = database(db_url)
    comparison = compare_aliases(db, run_id, alias)
    if as_json:
        print_json(comparison.as_dict())
        return
    table = titled_table(
        f"{run_id}: titles by alias",
        [("cluster", "right"), ("queries", "right"), *[(a, "left") for a in alias]],
    )
    for row in comparison.rows:
        table.add_row(str(row["cluster_id"]), f"{row['size']:,}", *[row[a] or "" for a in alias])
    console.print(table)
    for choice in comparison.choices:
        score = comparison.label_accuracy.get(choice.alias)
        console.print(
            f"  {choice.alias}: {choice.summary_run_id} ({choice.model}), label "
            f"accuracy {'n/a' if score is None else f'{score:.3f}'}"
        )


@app.command()
def status(db_url: DbUrlOption = None, as_json: JsonOption = False) -> None:
    """What the database holds: rows per table, vectors per model, runs and summary runs,
    and its size."""
    from lmsys_pipeline.reading.status import database_status

    found = database_status(database(db_url))
    if as_json:
        print_json(found)
        return
    size = found["database_bytes"]
    console.print(
        f"{found['database']} — {'size unknown' if size is None else f'{size / 1e6:,.1f} MB'}",
        style="bold",
    )
    table = titled_table("rows per table", [("table", "left", WHOLE), ("rows", "right")])
    for name, count in found["rows"].items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    for model in found["embeddings"]:
        console.print(
            f"  embeddings {model['model']} ({model['dimension']}-d): {model['queries']:,} queries"
        )
    console.print(
        f"  clustering runs: {found['clustering_runs']}; summary runs: {found['summary_runs']}"
    )
