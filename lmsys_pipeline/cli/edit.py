"""``lmsys edit ...``: curate a clustering run by hand, with the reference tool's command names.

Every edit is one transaction with its audit row (``curation/``); each is also reported to
Dagster as an observation of the run's ``cluster_run`` partition, so the UI's history shows
that the data changed outside a materialization.
"""

import json
from typing import Annotated

import typer

from lmsys_pipeline.cli.app import Commands, app
from lmsys_pipeline.cli.console import console, error_console
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database

edit_app = typer.Typer(
    help="Curate clusters by hand: move, rename, merge, split, delete, tag, flag, undo.",
    no_args_is_help=True,
    cls=Commands,
)
app.add_typer(edit_app, name="edit")

EditorOption = Annotated[
    str | None, typer.Option("--editor", help="Who made the edit (default: the OS user).")
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")]


def _done(db_url: str | None, edit_id: int, as_json: bool) -> None:
    """Reports the edit to Dagster and prints it."""
    from lmsys_pipeline.curation.history import audit_row

    row = audit_row(database(db_url), edit_id)
    _observe(row)
    if as_json:
        print(json.dumps(row.as_dict()))
        return
    target = "" if row.cluster_id is None else f" on cluster {row.cluster_id}"
    console.print(f"Edit {row.id}: {row.edit_type}{target} of {row.run_id} by {row.editor}.")


def _observe(row) -> None:
    import dagster as dg

    from lmsys_pipeline.cli.launch import dagster_instance

    try:
        with dagster_instance() as instance:
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key="cluster_run",
                    partition=row.run_id,
                    description=f"hand edit {row.id}: {row.edit_type}",
                    metadata={
                        "edit_id": row.id,
                        "edit_type": row.edit_type,
                        "cluster_id": row.cluster_id if row.cluster_id is not None else "",
                        "editor": row.editor,
                        "reason": row.reason or "",
                    },
                )
            )
    except Exception as error:  # the edit is committed; the UI note is a courtesy
        error_console.print(f"The edit is saved, but Dagster was not told: {error}")


@edit_app.command("move-query")
def move_query(
    run_id: str,
    query_id: int,
    to_cluster: Annotated[int, typer.Option("--to-cluster", help="Target cluster (-1: noise).")],
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move one query to another cluster of the run."""
    from lmsys_pipeline.curation.edits import move_queries as move

    edit_id = move(database(db_url), run_id, [query_id], to_cluster, editor=editor, reason=reason)
    _done(db_url, edit_id, as_json)


@edit_app.command("move-queries")
def move_queries(
    run_id: str,
    to_cluster: Annotated[int, typer.Option("--to-cluster", help="Target cluster (-1: noise).")],
    query_ids: Annotated[
        str | None, typer.Option("--query-ids", help="Comma-separated query ids.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Move the run's queries nearest to this text.")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many with --search.")] = 10,
    from_cluster: Annotated[
        int | None, typer.Option("--from-cluster", help="With --search: only from this cluster.")
    ] = None,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move several queries, by ids or by a semantic search filter, in one edit."""
    from lmsys_pipeline.curation.edits import EditError
    from lmsys_pipeline.curation.edits import move_queries as move
    from lmsys_pipeline.curation.views import parse_ids, searched_ids

    if (query_ids is None) == (search is None):
        raise EditError("Give either --query-ids or --search.")
    db = database(db_url)
    if query_ids is not None:
        ids = parse_ids(query_ids)
    else:
        ids = searched_ids(db, run_id, search, top_k, from_cluster, to_cluster)
    edit_id = move(db, run_id, ids, to_cluster, editor=editor, reason=reason)
    _done(db_url, edit_id, as_json)


@edit_app.command("rename-cluster")
def rename_cluster(
    run_id: str,
    cluster_id: int,
    alias: Annotated[str, typer.Option("--alias", help="Whose title to change.")],
    title: Annotated[str | None, typer.Option("--title")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new title and/or description for one cluster in one alias."""
    from lmsys_pipeline.curation.edits import rename_cluster as rename

    edit_id = rename(
        database(db_url), run_id, cluster_id, alias=alias, title=title,
        description=description, editor=editor, reason=reason,
    )  # fmt: skip
    _done(db_url, edit_id, as_json)


@edit_app.command("merge-clusters")
def merge_clusters(
    run_id: str,
    source: Annotated[list[int], typer.Argument(help="Clusters to merge away.")],
    into: Annotated[int, typer.Option("--into", help="The cluster that takes their queries.")],
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Merge clusters into one; their titles are kept in the audit for undo."""
    from lmsys_pipeline.curation.edits import merge_clusters as merge

    edit_id = merge(database(db_url), run_id, source, into, editor=editor, reason=reason)
    _done(db_url, edit_id, as_json)


@edit_app.command("split-cluster")
def split_cluster(
    run_id: str,
    cluster_id: int,
    query_ids: Annotated[
        str | None, typer.Option("--query-ids", help="Comma-separated ids to split off.")
    ] = None,
    parts: Annotated[
        int | None, typer.Option("--parts", help="Split into this many by k-means.")
    ] = None,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Split a cluster: the given queries into a new cluster, or into --parts by k-means."""
    from lmsys_pipeline.curation.reshape import split_cluster as split
    from lmsys_pipeline.curation.views import parse_ids

    ids = parse_ids(query_ids) if query_ids is not None else None
    edit_id = split(
        database(db_url), run_id, cluster_id, query_ids=ids, parts=parts,
        editor=editor, reason=reason,
    )  # fmt: skip
    _done(db_url, edit_id, as_json)


@edit_app.command("delete-cluster")
def delete_cluster(
    run_id: str,
    cluster_id: int,
    move_to: Annotated[
        int, typer.Option("--move-to", help="Where its queries go (default -1: noise).")
    ] = -1,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a cluster: its queries become noise or move to another cluster."""
    from lmsys_pipeline.curation.reshape import delete_cluster as remove

    edit_id = remove(
        database(db_url), run_id, cluster_id, move_to=move_to, editor=editor, reason=reason
    )
    _done(db_url, edit_id, as_json)


@edit_app.command("flag-cluster")
def flag_cluster(
    run_id: str,
    cluster_id: int,
    flags: Annotated[list[str], typer.Argument(help="One or more flags.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the flags away.")] = False,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add flags to a cluster (or take them away with --remove)."""
    from lmsys_pipeline.curation.annotations import mark_cluster

    edit_id = mark_cluster(
        database(db_url), run_id, cluster_id, "flag", flags, remove=remove,
        editor=editor, reason=reason,
    )  # fmt: skip
    _done(db_url, edit_id, as_json)


@edit_app.command("tag-cluster")
def tag_cluster(
    run_id: str,
    cluster_id: int,
    tags: Annotated[list[str] | None, typer.Argument(help="Tags to add.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Take the tags away.")] = False,
    quality: Annotated[str | None, typer.Option(help="high, medium or low.")] = None,
    coherence: Annotated[
        int | None, typer.Option(help="1 (incoherent) to 5 (highly coherent).")
    ] = None,
    notes: Annotated[str | None, typer.Option(help='Free text; "" clears it.')] = None,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tag a cluster and rate it (quality, coherence, notes): one edit, undoable."""
    from lmsys_pipeline.curation.annotations import tag_cluster as annotate

    edit_id = annotate(
        database(db_url), run_id, cluster_id, tags or [], remove=remove, quality=quality,
        coherence=coherence, notes=notes, editor=editor, reason=reason,
    )  # fmt: skip
    _done(db_url, edit_id, as_json)


@edit_app.command("undo")
def undo(
    edit_id: int,
    editor: EditorOption = None,
    reason: ReasonOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo an edit (the run's latest in force): restores the exact previous state."""
    from lmsys_pipeline.curation.history import undo as take_back

    undo_id = take_back(database(db_url), edit_id, editor=editor, reason=reason)
    _done(db_url, undo_id, as_json)
