"""``lmsys edit`` commands that only read: view-query, history, audit, orphaned and
select-bad-clusters (which clusters to look at first)."""

import json
from typing import Annotated

import typer

from lmsys_pipeline.cli.console import console
from lmsys_pipeline.cli.edit import edit_app
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database
from lmsys_pipeline.cli.tables import WHOLE, WORDS, titled_table


@edit_app.command("view-query")
def view_query(query_id: int, db_url: DbUrlOption = None, as_json: JsonOption = False) -> None:
    """A query's text and its cluster (with titles) in every run."""
    from lmsys_pipeline.curation.views import query_view

    view = query_view(database(db_url), query_id)
    if as_json:
        print(json.dumps(view))
        return
    console.print(f"Query {query_id} ({view['language'] or 'unknown language'}, {view['model']})")
    console.print(view["query_text"])
    table = titled_table(
        "Clusters",
        [("run", "left", WHOLE), ("cluster", "right"), ("confidence", "right"), ("title", "left")],
    )
    for place in view["clusters"]:
        confidence = place["confidence"]
        table.add_row(
            place["run_id"],
            str(place["cluster_id"]),
            "" if confidence is None else f"{confidence:.3f}",
            place["title"] or "",
        )
    console.print(table)


@edit_app.command("history")
def history(
    run_id: str,
    cluster_id: Annotated[int | None, typer.Option("--cluster-id")] = None,
    query_id: Annotated[int | None, typer.Option("--query-id")] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The edits of one cluster or one query of a run."""
    from lmsys_pipeline.curation.history import history as edits_of

    _print_edits(
        edits_of(database(db_url), run_id, cluster_id=cluster_id, query_id=query_id), as_json
    )


@edit_app.command("audit")
def audit(
    run_id: str,
    edit_type: Annotated[str | None, typer.Option("--edit-type")] = None,
    editor: Annotated[str | None, typer.Option("--editor")] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every edit of a run, oldest first, filtered by type and editor."""
    from lmsys_pipeline.curation.history import audit as edits_of

    _print_edits(edits_of(database(db_url), run_id, edit_type=edit_type, editor=editor), as_json)


@edit_app.command("orphaned")
def orphaned(run_id: str, db_url: DbUrlOption = None, as_json: JsonOption = False) -> None:
    """Queries of the run that belong to no cluster (noise, or deleted clusters)."""
    from lmsys_pipeline.curation.views import orphaned_queries

    rows = orphaned_queries(database(db_url), run_id)
    if as_json:
        print(json.dumps(rows))
        return
    console.print(f"{len(rows)} queries of {run_id} belong to no cluster.")
    for row in rows[:50]:
        console.print(f"  {row['query_id']}: {row['query_text'][:100]}")


@edit_app.command("select-bad-clusters")
def select_bad_clusters(
    run_id: str,
    top: Annotated[int, typer.Option("--top", min=1, help="How many to list.")] = 10,
    min_size: Annotated[int, typer.Option("--min-size", min=2)] = 5,
    max_size: Annotated[int | None, typer.Option("--max-size", min=1)] = None,
    min_languages: Annotated[
        int | None, typer.Option("--min-languages", min=1, help="At least this many languages.")
    ] = None,
    quality: Annotated[
        str | None, typer.Option(help="Only clusters an analyst rated so (high, medium, low).")
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Clusters ranked least coherent first (misfit depth: how much closer members sit to
    another cluster's centroid than to their own); feed the ids to flag-cluster."""
    from lmsys_pipeline.curation.annotations import require_quality
    from lmsys_pipeline.curation.coherence import rank_clusters, select_clusters
    from lmsys_pipeline.reading.clusters import annotations

    db = database(db_url)
    rated = None
    if quality is not None:
        require_quality(quality)
        rated = {c for c, a in annotations(db, run_id).items() if a.quality == quality}
    ranked = select_clusters(
        rank_clusters(db, run_id, min_size=min_size),
        max_size=max_size,
        min_languages=min_languages,
        among=rated,
    )[:top]
    if as_json:
        print(json.dumps([c.as_dict() for c in ranked]))
        return
    table = titled_table(
        f"Least coherent clusters of {run_id}",
        [
            ("cluster", "right"),
            ("queries", "right"),
            ("misfit depth", "right"),
            ("misfit share", "right"),
            ("mean cosine", "right"),
            ("other languages", "right"),
            ("misfits lean to", "right"),
        ],
    )
    for c in ranked:
        table.add_row(
            str(c.cluster_id), f"{c.size:,}", f"{c.misfit_depth:.3f}", f"{c.misfit_share:.1%}",
            f"{c.mean_cosine:.3f}", f"{c.other_languages_share:.1%}", str(c.nearest_other),
        )  # fmt: skip
    console.print(table)
    console.print(
        "Flag them: " + "; ".join(f"lmsys edit flag-cluster {run_id} {c.cluster_id} review"
                                  for c in ranked[:3])
    )  # fmt: skip


def _print_edits(rows, as_json: bool) -> None:
    if as_json:
        print(json.dumps([row.as_dict() for row in rows]))
        return
    table = titled_table(
        "Edits",
        [("edit", "right"), ("when", "left", WORDS), ("type", "left", WHOLE),
         ("cluster", "right"), ("editor", "left", WHOLE), ("reason", "left"),
         ("undone by", "right")],
    )  # fmt: skip
    for row in rows:
        table.add_row(
            str(row.id), row.timestamp.strftime("%Y-%m-%d %H:%M:%S"), row.edit_type,
            "" if row.cluster_id is None else str(row.cluster_id), row.editor,
            row.reason or "", "" if row.undone_by is None else str(row.undone_by),
        )  # fmt: skip
    console.print(table)
