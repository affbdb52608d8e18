"""Maintenance commands that change stored data outside the asset graph."""

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from lmsys_pipeline.cli.app import app, fail
from lmsys_pipeline.cli.console import console, error_console
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database


@app.command()
def delete(
    conversation_id: Annotated[
        list[str] | None,
        typer.Option("--conversation-id", help="A conversation to delete (repeatable)."),
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="A file of conversation ids, one per line.")
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete conversations everywhere: the query, its assignments in every run, its vectors
    (unless another query shares the text) and its text among summaries' examples; cluster
    sizes in summaries are recounted. One transaction."""
    import json

    from lmsys_pipeline.maintenance.deletion import delete_conversations

    ids = list(conversation_id or [])
    if from_file is not None:
        if not from_file.is_file():
            fail(f"The file {from_file} does not exist.")
        ids += [line.strip() for line in from_file.read_text(encoding="utf-8").splitlines()]
    ids = [i for i in ids if i]
    if not ids:
        fail("Give at least one --conversation-id or a --from-file.")
    report = delete_conversations(database(db_url), ids)
    for folder in report.vector_caches_removed:
        error_console.print(
            f"The vector cache {folder} could not be rewritten without the deleted vectors, so "
            "its files were removed (loads read the database until it can be written)."
        )
    if as_json:
        print(json.dumps(report.as_dict()))
        _fail_if_not_scrubbed(report.vector_caches_not_scrubbed)
        return
    console.print(
        f"Deleted {report.queries_deleted} conversations: "
        f"{report.assignments_deleted} cluster assignments, {report.vectors_deleted} "
        f"vectors, {report.examples_removed} summary examples; "
        f"{report.summaries_recounted} summary rows recounted, {report.summaries_scrubbed} "
        f"labels, {report.hierarchy_nodes_scrubbed} hierarchy nodes, {report.notes_scrubbed} "
        f"notes and {report.edits_scrubbed} audit rows had a quote or a distinctive word "
        f"removed, {report.cached_answers_deleted} cached answers dropped."
    )
    if report.file_checkpointed is False:
        error_console.print(
            "Another process holds the SQLite file open: the deleted text may stay in its "
            "write-ahead log until that process ends (run lmsys delete again then)."
        )
    if report.not_found:
        console.print(f"Not found ({len(report.not_found)}): {', '.join(report.not_found[:20])}")
    _fail_if_not_scrubbed(report.vector_caches_not_scrubbed)


def _fail_if_not_scrubbed(sentences: list[str]) -> None:
    """Exit 1 with each sentence: the rows are deleted, but a cache still holds vectors."""
    for sentence in sentences:
        error_console.print(Text("Error:", style="red"), sentence)
    if sentences:
        raise typer.Exit(code=1)
