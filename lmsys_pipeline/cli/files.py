"""Commands that write a run's results to a file: ``lmsys export`` (csv, json, parquet or a
DuckDB database) and ``lmsys map`` (the interactive cluster map). The target is checked
before any work and written through ``outputs.output_file`` (renamed into place when
complete); an existing regular file needs ``--force``, anything else is refused."""

from pathlib import Path
from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app, fail
from lmsys_pipeline.cli.console import console, error_console, print_json
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, QuietOption, database
from lmsys_pipeline.cli.read import (
    AliasOption,
    HierarchyRunOption,
    RunIdArgument,
    SummaryRunOption,
    summary_choice,
)
from lmsys_pipeline.outputs.output_file import check_target

ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]


@app.command()
def export(
    run_id: RunIdArgument,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, json, parquet or duckdb (tables for SQL).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    alias: AliasOption = None,
    summary_run_id: SummaryRunOption = None,
    hierarchy_run_id: HierarchyRunOption = None,
    force: ForceOption = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """One row per query of the run (ids, cluster, confidence, text, model, language, cluster
    title and description, and with a hierarchy one column per level: level_1_title ...),
    streamed to the file."""
    from lmsys_pipeline.cli.hierarchy import hierarchy_for
    from lmsys_pipeline.cli.progress import progress_display
    from lmsys_pipeline.outputs.export import FORMATS, export_run
    from lmsys_pipeline.outputs.hierarchy import ancestor_titles
    from lmsys_pipeline.progress import no_progress

    if fmt not in (*FORMATS, "duckdb"):
        fail(f"--format must be one of {', '.join(FORMATS)}, duckdb, not {fmt!r}.")
    check_target(output, force)
    db = database(db_url)
    if fmt == "duckdb":
        _export_duckdb(db, run_id, output, as_json)
        return
    choice = summary_choice(db, run_id, alias, summary_run_id)
    hierarchy, tree = hierarchy_for(db, run_id, choice, hierarchy_run_id)
    ancestors = ancestor_titles(tree) if tree else None
    with progress_display(error_console, quiet=quiet, plain=as_json) as display:
        written = export_run(
            db, run_id, choice, fmt, output, ancestors, on_progress=display or no_progress
        )
    summary = {
        "run_id": run_id,
        "format": fmt,
        "output": str(output),
        "rows": written,
        "summary_run_id": choice.summary_run_id if choice else None,
        "hierarchy_run_id": hierarchy.hierarchy_run_id if hierarchy else None,
        "levels": tree.top_level if tree else 0,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{written:,} rows of {run_id} written to {output} "
        f"(titles: {summary['summary_run_id'] or 'none'}; parents: "
        f"{summary['hierarchy_run_id'] or 'none'})"
    )


def _export_duckdb(db, run_id: str, output: Path, as_json: bool) -> None:
    from lmsys_pipeline.outputs.export_duckdb import export_duckdb
    from lmsys_pipeline.reading.choice import require_run

    require_run(db, run_id)
    tables = export_duckdb(db, run_id, output)
    if as_json:
        print_json({"run_id": run_id, "format": "duckdb", "output": str(output), "tables": tables})
        return
    console.print(
        f"{run_id} written to {output}: "
        + ", ".join(f"{name} {rows:,} rows" for name, rows in tables.items())
    )


@app.command("map")
def cluster_map(
    run_id: RunIdArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "map.html"
    ),
    alias: AliasOption = None,
    sample: Annotated[int, typer.Option(min=10, help="Queries drawn (seeded sample).")] = 3_000,
    projection: Annotated[str, typer.Option(help="tsne (default) or pca.")] = "tsne",
    level: Annotated[
        int | None,
        typer.Option(
            min=0, help="Colour by the ancestors at this hierarchy level (default: the top)."
        ),
    ] = None,
    hierarchy_run_id: HierarchyRunOption = None,
    force: ForceOption = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A self-contained interactive HTML map of the run (opens offline): queries in 2-D
    coloured by cluster (or, with a hierarchy, by their parent at a level), hover for the
    query and titles; beside it the clusters by size, or the hierarchy as a collapsible tree
    with example queries."""
    from lmsys_pipeline.cli.hierarchy import hierarchy_for
    from lmsys_pipeline.outputs.cluster_map import build_map

    check_target(output, force)
    db = database(db_url)
    choice = summary_choice(db, run_id, alias, None)
    found, tree = hierarchy_for(db, run_id, choice, hierarchy_run_id)
    try:
        written = build_map(
            db,
            run_id,
            choice,
            output,
            sample=sample,
            method=projection,
            hierarchy=(found, tree) if found else None,
            level=level,
        )
    except ValueError as error:
        fail(str(error))
    if as_json:
        print_json(written)
        return
    coloured = f"coloured by level {written['level']}" if written["level"] else "by cluster"
    console.print(
        f"Map of {run_id} ({written['points']:,} queries, {written['clusters']} "
        f"clusters, {projection}, {coloured}) written to {output}"
    )
