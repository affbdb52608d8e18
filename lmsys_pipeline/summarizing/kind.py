"""Summary runs as one kind of alias run (``labeling/alias_run.py``): what sets them apart."""

from lmsys_pipeline.labeling.alias_run import AliasRunKind
from lmsys_pipeline.labeling.report import SPEND_FIELDS
from lmsys_pipeline.summarizing.ledger import SUMMARY_LEDGER
from lmsys_pipeline.summarizing.prepare import prepare_summary
from lmsys_pipeline.summarizing.runner import summarize_run

SUMMARY_RUNS = AliasRunKind(
    ledger=SUMMARY_LEDGER,
    asset="cluster_summaries",
    prepare=prepare_summary,
    run=summarize_run,
    fields=(
        "status",
        "clusters_total",
        "clusters_done",
        "clusters_failed",
        *SPEND_FIELDS,
        "label_accuracy",
    ),
    heading="{alias} on {run_id}: {summary_run_id} ({model}, Dagster run {dagster_run_id})",
    failed="{clusters_failed} of {clusters_total} clusters failed",
)
