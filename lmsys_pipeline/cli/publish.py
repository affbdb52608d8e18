"""``lmsys publish``: the aggregate-only report of a summary run, behind the privacy gate
(``privacy/``): folded small clusters, quoted queries withheld, refused while a public title or
description holds personal data, and, with ``--audit-model``, while the auditor scores one below
3 (the ``privacy_report`` asset's audit, through the same function; answers cached, so a killed
run asks again only what was not answered)."""

from pathlib import Path
from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app
from lmsys_pipeline.cli.console import console, error_console, print_json
from lmsys_pipeline.cli.options import (
    BaseUrlOption,
    ConcurrencyOption,
    DbUrlOption,
    JsonOption,
    MaxRetriesOption,
    QuietOption,
    RpmOption,
    TimeoutOption,
    database,
    llm_resource,
)
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
    audit_model: Annotated[
        str | None,
        typer.Option(
            help="provider/name of an auditor that scores every public title and description "
            "1-5 (5: nothing private); publishing is refused below 3. Default: no audit."
        ),
    ] = None,
    base_url: BaseUrlOption = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    timeout: TimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Writes only aggregates (the tree with titles, descriptions, conversations and shares;
    conversations per week; what was folded or withheld and why): no query text, no query or
    conversation ids."""
    from lmsys_pipeline.cli.progress import progress_display
    from lmsys_pipeline.privacy.audit import audit_by_model
    from lmsys_pipeline.privacy.publish import gate
    from lmsys_pipeline.privacy.publish import publish as write_report
    from lmsys_pipeline.privacy.view import public_view
    from lmsys_pipeline.progress import no_progress

    db = database(db_url)
    view = public_view(db, run_id, alias, min_conversations)
    audit = None
    if audit_model:
        gate(view)  # findings first: no request is paid for a report that would be refused
        llm = llm_resource(
            concurrency=concurrency,
            rpm=rpm,
            timeout_s=timeout,
            max_retries=max_retries,
            base_url=base_url,
        )
        with progress_display(error_console, quiet=quiet, plain=as_json) as display:
            audit = audit_by_model(
                db, view.fields, audit_model, llm.throughput(), llm.api_key, display or no_progress
            )
    written = write_report(view, out, audit)
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
        **(audit.as_metadata() if audit else {}),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{run_id} ({alias}) published to {out}: {summary['public_nodes']:,} clusters and "
        f"categories shown, {summary['folded_nodes']:,} folded (fewer than "
        f"{min_conversations:,} conversations), {summary['quotes_withheld']:,} quotes withheld."
    )
    if audit:
        console.print(
            f"Audited by {audit.model}: {len(audit.scores):,} scored (lowest "
            f"{min(audit.scores.values(), default=0)}), {audit.cached:,} from the cache, "
            f"{audit.requests:,} requests."
        )
