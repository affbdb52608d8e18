"""The one alias-run pattern: ``labeling`` sits below the two kinds of run (it imports neither),
and each kind's report lines read as the CLI printed them before they became a spec."""

import ast
from pathlib import Path

from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.hierarchy.kind import HIERARCHY_RUNS
from lmsys_pipeline.labeling import alias_run
from lmsys_pipeline.summarizing.kind import SUMMARY_RUNS

LABELING = Path(alias_run.__file__).parent
ABOVE = ("summarizing", "hierarchy", "defs", "cli", "reading", "curation", "maintenance")


def test_labeling_imports_nothing_above_it():
    found = []
    for path in sorted(LABELING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[:2] in (["lmsys_pipeline", above] for above in ABOVE)
            ]
    assert found == []


def test_each_kind_reports_its_run_in_the_lines_the_cli_printed():
    summary = SummaryRun(
        summary_run_id="summary-m-20260101-000000",
        run_id="kmeans-4-x",
        alias="gpt",
        model="openai/m",
        prompt_version="v",
        clusters_total=6,
        clusters_failed=1,
        failures={"3": "HTTP 500 after every retry"},
    )
    assert SUMMARY_RUNS.heading_of(summary, "d1") == (
        "gpt on kmeans-4-x: summary-m-20260101-000000 (openai/m, Dagster run d1)"
    )
    assert SUMMARY_RUNS.failed_of(summary) == "1 of 6 clusters failed"
    assert SUMMARY_RUNS.ledger.key == "summary_run_id"
    hierarchy = HierarchyRun(
        hierarchy_run_id="hier-m-20260101-000000",
        run_id="kmeans-4-x",
        alias="gpt",
        summary_run_id="summary-m-20260101-000000",
        model="openai/m",
        prompt_version="v",
        failures={"level 1 assign 3": "HTTP 500", "level 1 assign 4": "HTTP 500"},
    )
    assert HIERARCHY_RUNS.heading_of(hierarchy, "d2") == (
        "hier-m-20260101-000000 (gpt on kmeans-4-x, openai/m, Dagster run d2)"
    )
    assert HIERARCHY_RUNS.failed_of(hierarchy) == "2 requests failed"
    assert {SUMMARY_RUNS.ledger.name, HIERARCHY_RUNS.ledger.name} == {"summary", "hierarchy"}
