"""``privacy_report``: the privacy gate of one summary run (clustering run x alias).

The report is this materialization's metadata (what would be published, what was folded or
withheld, the findings by kind and field, never their text); its checks are blocking, so a
failure stops whatever would be built on the report. Logic: ``privacy/view.py`` and
``privacy/report.py``.
"""

import dagster as dg
from pydantic import Field

from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import (
    DatabaseResource,
    ExplorerResource,
    LLMResource,
    ProgressResource,
)
from lmsys_pipeline.defs.summarizing.alias_run import dagster_metadata
from lmsys_pipeline.defs.summarizing.partitions import (
    ALIAS_DIMENSION,
    RUN_DIMENSION,
    summary_partitions,
)
from lmsys_pipeline.privacy.audit import audit_by_model
from lmsys_pipeline.privacy.report import privacy_checks, privacy_metadata
from lmsys_pipeline.privacy.threshold import MIN_CONVERSATIONS
from lmsys_pipeline.privacy.view import public_view

CHECKS = {
    "no_finding_in_public_fields": "No public title or description holds personal data "
    "(e-mail, phone, card, IBAN, IP, credentials, keys) once quoted queries are withheld.",
    "public_clusters_meet_threshold": "Every cluster or category shown on its own has at least "
    "min_conversations distinct conversations.",
    "audited_scores_at_least_3": "Every audited title and description scores 3 or more on "
    "Clio's 1-5 privacy scale (passes when not audited).",
}


class PrivacyConfig(dg.Config):
    """The threshold, and the auditor's model (none: no audit). The server, its key and the
    request limits belong to the ``llm`` resource."""

    min_conversations: int = Field(
        default=MIN_CONVERSATIONS,
        description="Distinct conversations a cluster needs to be shown on its own.",
    )
    audit_model: str | None = Field(
        default=None, description="provider/name of the auditor (1-5 scale); none: no audit."
    )


@dg.asset(
    deps=["cluster_summaries", "cluster_hierarchy"],
    partitions_def=summary_partitions,
    group_name="privacy",
    kinds={"python", "openai"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="privacy_report", description=text, blocking=True)
        for name, text in CHECKS.items()
    ],
    description=(
        "The privacy gate of a partition's summary run (and its hierarchy, when one was built "
        "on it): what lmsys publish would write, small clusters folded, quoted queries "
        "withheld, personal data found in public titles and descriptions."
    ),
)
def privacy_report(
    context: dg.AssetExecutionContext,
    config: PrivacyConfig,
    database: DatabaseResource,
    llm: LLMResource,
    progress: ProgressResource,
    explorer: ExplorerResource,
) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    run_id, alias = keys[RUN_DIMENSION], keys[ALIAS_DIMENSION]
    audit = None
    with user_failures():
        view = public_view(database.manager, run_id, alias, config.min_conversations)
        if config.audit_model:
            audit = audit_by_model(
                database.manager,
                view.fields,
                config.audit_model,
                llm.throughput(),
                llm.api_key,
                progress.reporter(context.log.info),
            )
    outcomes = privacy_checks(view, audit)
    metadata = {**privacy_metadata(view), **(audit.as_metadata() if audit else {})}
    context.log.info(
        f"{run_id} {alias}: {metadata['public_nodes']} public nodes, "
        f"{metadata['folded_nodes']} folded, {metadata['findings_in_public_fields']} findings "
        "in public fields"
    )
    return dg.MaterializeResult(
        metadata={
            **dagster_metadata(metadata, ("folded_table",), ("finding_kinds",)),
            **explorer.run_link(run_id, alias),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=name,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata=outcome.metadata,
            )
            for name, outcome in outcomes.items()
        ],
    )
