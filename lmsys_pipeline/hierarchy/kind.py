"""Hierarchy runs as one kind of alias run (``labeling/alias_run.py``): what sets them apart."""

from lmsys_pipeline.hierarchy.ledger import HIERARCHY_LEDGER
from lmsys_pipeline.hierarchy.prepare import prepare_hierarchy
from lmsys_pipeline.hierarchy.runner import build_hierarchy
from lmsys_pipeline.labeling.alias_run import AliasRunKind
from lmsys_pipeline.labeling.report import SPEND_FIELDS

HIERARCHY_RUNS = AliasRunKind(
    ledger=HIERARCHY_LEDGER,
    asset="cluster_hierarchy",
    prepare=prepare_hierarchy,
    run=build_hierarchy,
    fields=(
        "status",
        "summary_run_id",
        "clusters_total",
        "levels",
        "level_sizes",
        "top_size",
        "orphans",
        *SPEND_FIELDS,
    ),
    heading="{hierarchy_run_id} ({alias} on {run_id}, {model}, Dagster run {dagster_run_id})",
    failed="{failed} requests failed",
)
