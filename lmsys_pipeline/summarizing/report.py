"""What a finished summary run tells its reader: titles by size, failures, spend, quality."""

from typing import Any

from lmsys_pipeline.clustering.report import size_histogram
from lmsys_pipeline.labeling.measures import measures_metadata as label_measures_metadata
from lmsys_pipeline.labeling.report import MAX_TABLE_ROWS, failures_table, spend
from lmsys_pipeline.markdown import table
from lmsys_pipeline.summarizing.ledger import CARRIED
from lmsys_pipeline.summarizing.runner import SummaryReport, TitleRow

EXAMPLE_CHARS = 80


def titles_table(titles: dict[int, TitleRow], limit: int = MAX_TABLE_ROWS) -> str:
    """Clusters by size: id, size, title and two of the queries the labeller saw."""
    ranked = sorted(titles.items(), key=lambda item: (-item[1].size, item[0]))
    rows = [
        [
            cluster,
            f"{row.size:,}",
            row.title or "",
            " · ".join(q[:EXAMPLE_CHARS] for q in row.examples),
        ]
        for cluster, row in ranked[:limit]
    ]
    note = f"\n\n_{len(ranked) - limit} smaller clusters not shown_" if len(ranked) > limit else ""
    return table(["cluster", "queries", "title", "examples"], rows) + note


def carry_metadata(entry) -> dict[str, Any]:
    """Clusters whose labels were carried from the previous run, and what that saved: one
    request per cluster at this run's average cost per request (None when unknown)."""
    carried = (entry.parameters or {}).get(CARRIED, {})
    per_request = (
        entry.estimated_cost_usd / entry.requests
        if entry.requests and entry.estimated_cost_usd is not None
        else None
    )
    return {
        "clusters_carried": len(carried),
        "carried_from": [
            {"from_run_id": run, "summary_run_id": summary}
            for run, summary in sorted(
                {(s["from_run_id"], s["summary_run_id"]) for s in carried.values()}
            )
        ],
        "requests_saved": len(carried),
        "estimated_cost_saved_usd": None if per_request is None else per_request * len(carried),
    }


def summary_metadata(report: SummaryReport) -> dict[str, Any]:
    entry = report.entry
    return {
        **carry_metadata(entry),
        "summary_run_id": entry.summary_run_id,
        "alias": entry.alias,
        "clustering_run": entry.run_id,
        "model": entry.model,
        "prompt_version": entry.prompt_version,
        "status": entry.status,
        "resumed": report.resumed,
        "replaced_summary_runs": report.replaced,
        "clusters_total": entry.clusters_total,
        "clusters_done": entry.clusters_done,
        "clusters_failed": entry.clusters_failed,
        "clusters_labelled_now": report.newly_labelled,
        **spend(entry),
        "label_accuracy": entry.label_accuracy,
        "label_accuracy_queries": entry.label_accuracy_queries,
        "label_accuracy_chance": report.quality.chance,
        **label_measures_metadata(entry),
        "titles": titles_table(report.titles),
        "size_histogram": size_histogram([row.size for row in report.titles.values()]),
        "failures": failures_table(entry.failures or {}),
    }
