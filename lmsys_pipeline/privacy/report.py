"""The privacy report of a summary run: its three checks and its metadata.

- ``no_finding_in_public_fields``: no public title or description holds personal data (after
  quoted queries are withheld).
- ``public_clusters_meet_threshold``: every node shown on its own has at least the threshold's
  distinct conversations, recounted here from the tree rather than trusted from the folding.
- ``audited_scores_at_least_3``: every public field an auditor scored has 3 or more on Clio's
  1-5 scale (1: identifies a person; 5: nothing private), and none failed to be scored.
  Passes, saying so, when not audited.
"""

from typing import Any

from lmsys_pipeline.hierarchy.validation import CheckOutcome
from lmsys_pipeline.markdown import table
from lmsys_pipeline.privacy.audit import AuditResult
from lmsys_pipeline.privacy.view import FieldFinding, PublicView

MIN_AUDIT_SCORE = 3
SHOWN = 20


def _findings_rows(findings: list[FieldFinding]) -> list[dict[str, Any]]:
    return [
        {"cluster_id": f.node_id, "level": f.level, "field": f.field, "kinds": list(f.kinds)}
        for f in findings
    ]


def _audit_outcome(view: PublicView, audit: AuditResult | None) -> CheckOutcome:
    if audit is None:
        return CheckOutcome(True, {"audited": 0, "note": "not audited"})
    low = sorted(n for n, s in audit.scores.items() if s < MIN_AUDIT_SCORE)
    missing = sorted(set(view.fields) - set(audit.scores))
    return CheckOutcome(
        not low and not missing,
        {
            "audited": len(audit.scores),
            "below_3": [{"cluster_id": n, "score": audit.scores[n]} for n in low[:SHOWN]],
            "not_scored": missing[:SHOWN],
            "first_failure": next(iter(audit.failed.values()), ""),
        },
    )


def privacy_checks(view: PublicView, audit: AuditResult | None = None) -> dict[str, CheckOutcome]:
    folding = view.folding
    small = [
        n for n in folding.public if folding.conversations.get(n, 0) < folding.min_conversations
    ]
    return {
        "no_finding_in_public_fields": CheckOutcome(
            not view.findings,
            {"findings": len(view.findings), "first": _findings_rows(view.findings[:SHOWN])},
        ),
        "public_clusters_meet_threshold": CheckOutcome(
            not small,
            {
                "min_conversations": folding.min_conversations,
                "public_nodes": len(folding.public),
                "below": small[:SHOWN],
            },
        ),
        "audited_scores_at_least_3": _audit_outcome(view, audit),
    }


def privacy_metadata(view: PublicView) -> dict[str, Any]:
    folding = view.folding
    folded = [f for f in folding.folded]
    rows = [
        [f.node_id, f.level, f.conversations, "Other" if f.into is None else f.into, f.reason]
        for f in folded[:SHOWN]
    ]
    return {
        "summary_run_id": view.summary_run_id,
        "hierarchy_run_id": view.hierarchy_run_id or "",
        "min_conversations": folding.min_conversations,
        "conversations": view.total_conversations,
        "public_nodes": len(folding.public),
        "folded_nodes": len(folded),
        "other_conversations": folding.other_conversations,
        "quotes_withheld": len(view.quotes_withheld),
        "findings_in_public_fields": len(view.findings),
        "trend_cells_suppressed": view.trends.suppressed_cells if view.trends else 0,
        "findings_in_stored_fields": len(view.stored_findings),
        "finding_kinds": sorted({k for f in view.stored_findings for k in f.kinds}),
        "folded_table": table(["cluster", "level", "conversations", "folded into", "why"], rows)
        if rows
        else "_nothing folded_",
    }
