"""``lmsys publish``: the aggregate-only report of a summary run, behind the privacy gate
(``privacy/``): folded small clusters, quoted queries withheld, refused while a public title or
description holds personal data."""

from pathlib import Path
from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console, print_json
from lmsys_pipeline.cli.options import DbUrlOption, JsonOption, database
from lmsys_pipeline.cli.read import RunIdArgument
from lmsys_pipeline.privacy.threshold import MIN_CONVERSATIONS


@app.command()
def publish(
    run_id: RunIdArgument,
    alias: Annotated[str, typer.Option(help="The summary run (its latest) to publish.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.html and report.json (made if new).")
    ],
    min_conversations: Annotated[
        int,
        typer.Option(min=1, help="Distinct conversations a cluster needs to be shown on its own."),
    ] = MIN_CONVERSATIONS,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Writes only aggregates (the tree with titles, descriptions, conversations and shares;
    what was folded or withheld and why): no query text, no query or conversation ids."""
    from lmsys_pipeline.privacy.publish import publish as write_report
    from lmsys_pipeline.privacy.view import public_view

    view = public_view(database(db_url), run_id, alias, min_conversations)
    written = write_report(view, out)
    summary = {
        "run_id": run_id,
        "alias": alias,
        "summary_run_id": view.summary_run_id,
        "hierarchy_run_id": view.hierarchy_run_id,
        "files": [str(p) for p in written],
        "public_nodes": len(view.folding.public),
        "folded_nodes": len(view.folding.folded),
        "quotes_withheld": len(view.quotes_withheld),
        "min_conversations": min_conversations,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{run_id} ({alias}) published to {out}: {summary['public_nodes']:,} clusters and "
        f"categories shown, {summary['folded_nodes']:,} folded (fewer than "
        f"{min_conversations:,} conversations), {summary['quotes_withheld']:,} quotes withheld."
    )
