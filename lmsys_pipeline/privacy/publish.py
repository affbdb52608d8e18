"""``lmsys publish``: the aggregate-only report of a summary run, behind the privacy gate.

What is written: the tree of public nodes with titles, descriptions, distinct conversations and
shares; how many small clusters each node holds folded; "Other (small clusters)"; conversations
per week for each top-level category (``privacy/trends.py``: small cells suppressed); the lineage
against the earlier run in numbers (clusters that continue, split, merged, are new or gone);
and the list of what was folded or withheld and why. Never a query's text, a query or
conversation id, or a folded node's title. ``report.json`` holds it as data; ``report.html``
is one page with no scripts, styles inline, every text escaped. ``gate`` refuses, naming
the nodes, while a public field still holds personal data.
"""

import html
import json
from pathlib import Path
from typing import Any

from lmsys_pipeline.hierarchy.tree import Node
from lmsys_pipeline.outputs.output_file import check_target, replacing
from lmsys_pipeline.privacy.audit import AuditResult
from lmsys_pipeline.privacy.report import MIN_AUDIT_SCORE
from lmsys_pipeline.privacy.threshold import OTHER_TITLE, PrivacyError
from lmsys_pipeline.privacy.trends import trends_report
from lmsys_pipeline.privacy.view import PublicView

JSON_NAME = "report.json"
HTML_NAME = "report.html"


def _named(view: PublicView, node_id: int) -> str:
    level = view.tree.nodes[node_id].level
    return f"cluster {node_id}" if level == 0 else f"level-{level} category {node_id}"


def _refusal(view: PublicView, why: str, what_then: str) -> PrivacyError:
    return PrivacyError(
        f"Publishing {view.run_id} --alias {view.alias} refused: {why}; {what_then}, then publish."
    )


def gate(view: PublicView, audit: AuditResult | None = None) -> None:
    """``PrivacyError`` naming every node whose public title or description holds a finding,
    or, when ``audit`` is given, that the auditor scored below 3 or could not score."""
    if view.findings:
        named = {}
        for found in view.findings:
            named.setdefault(_named(view, found.node_id), []).append(
                f"{'/'.join(found.kinds)} in its {found.field}"
            )
        listed = "; ".join(f"{name} ({', '.join(parts)})" for name, parts in named.items())
        raise _refusal(
            view,
            f"personal data is still in public fields of {listed}",
            "rename them (lmsys edit rename-cluster) or summarize again",
        )
    if audit is None:
        return
    low = sorted(n for n, score in audit.scores.items() if score < MIN_AUDIT_SCORE)
    unscored = sorted(set(view.fields) - set(audit.scores))
    if not low and not unscored:
        return
    parts = []
    if low:
        scored = ", ".join(f"{_named(view, n)} (score {audit.scores[n]})" for n in low)
        parts.append(f"{audit.model} scores the public fields of {scored} below {MIN_AUDIT_SCORE}")
    if unscored:
        reason = next(iter(audit.failed.values()), "no answer")
        listed = ", ".join(_named(view, n) for n in unscored)
        parts.append(f"{audit.model} could not score {listed} ({reason})")
    raise _refusal(
        view, " and ".join(parts), "rename them (lmsys edit rename-cluster) or audit again"
    )


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _node(view: PublicView, node: Node, total: int) -> dict[str, Any]:
    folding = view.folding
    public = set(folding.public)
    folded = folding.folded_into(node.node_id)
    conversations = folding.conversations[node.node_id]
    return {
        "level": node.level,
        **view.fields.get(node.node_id, {}),
        "conversations": conversations,
        "share": _share(conversations, total),
        "small_clusters_folded_in": len(folded),
        "conversations_folded_in": sum(f.conversations for f in folded),
        "children": [
            _node(view, child, total)
            for child in view.tree.children(node)
            if child.node_id in public
        ],
    }


def public_report(view: PublicView) -> dict[str, Any]:
    """The report as data (what ``report.json`` holds)."""
    folding = view.folding
    total = view.total_conversations
    public = set(folding.public)
    roots = [n for n in view.tree.roots() if n.node_id in public]
    other = [f for f in folding.folded if f.into is None]

    def into(node_id: int | None) -> str:
        if node_id is None:
            return OTHER_TITLE
        if node_id in public:
            return view.fields[node_id].get("title", "")
        return "a small category, itself folded"

    return {
        "run_id": view.run_id,
        "alias": view.alias,
        "labels_by": view.model,
        "hierarchy": bool(view.hierarchy_run_id),
        "min_conversations": folding.min_conversations,
        "conversations": total,
        "tree": [_node(view, root, total) for root in roots],
        "other": {
            "title": OTHER_TITLE,
            "nodes": len(other),
            "conversations": folding.other_conversations,
            "share": _share(folding.other_conversations, total),
        },
        "withheld": [
            {
                "what": "cluster" if f.level == 0 else f"level-{f.level} category",
                "conversations": f.conversations,
                "folded_into": into(f.into),
                "why": f.reason,
            }
            for f in folding.folded
        ],
        "quotes_withheld": len(view.quotes_withheld),
        "lineage": view.lineage,
        "trends": trends_report(
            view.trends,
            {n: shown.get("title", "") for n, shown in view.fields.items()},
            folding.min_conversations,
        )
        if view.trends
        else None,
    }


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
li{{margin:.35rem 0}} .n{{color:#555;font-variant-numeric:tabular-nums}}
p.d{{margin:.1rem 0;color:#333}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}} .t{{overflow-x:auto}}</style>
</head><body>
{body}
</body></html>
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _item(node: dict[str, Any]) -> str:
    folded = node["small_clusters_folded_in"]
    note = (
        f" (holds {folded:,} small clusters, {node['conversations_folded_in']:,} conversations)"
        if folded
        else ""
    )
    children = "".join(_item(child) for child in node["children"])
    return (
        f"<li><b>{_e(node.get('title') or 'Untitled')}</b> "
        f"<span class=n>{node['conversations']:,} conversations, {node['share']:.1%}"
        f"{_e(note)}</span><p class=d>{_e(node.get('description', ''))}</p>"
        + (f"<ul>{children}</ul>" if children else "")
        + "</li>"
    )


def _lineage(lineage: dict[str, Any]) -> str:
    if not lineage:
        return ""
    counts = ", ".join(f"{_e(kind)} {n:,}" for kind, n in lineage.items() if kind != "from_run")
    return (
        f"<h2>Compared with {_e(lineage['from_run'])}</h2><p>Clusters by how they relate to "
        f"the earlier run: {counts}.</p>"
    )


def _other(other: dict[str, Any]) -> str:
    """The "Other (small clusters)" line, when anything was folded into it."""
    if not other["nodes"]:
        return ""
    return (
        f"<li><b>{_e(other['title'])}</b> <span class=n>{other['conversations']:,} "
        f"conversations, {other['share']:.1%} ({other['nodes']:,} clusters or categories)"
        "</span></li>"
    )


def _audited(audit: dict[str, Any] | None) -> str:
    if not audit:
        return ""
    return (
        f"<p>Every title and description shown was audited by {_e(audit['model'])} on a 1-5 "
        f"privacy scale (5: nothing private): {audit['fields_scored']:,} scored, the lowest "
        f"{_e(audit['lowest_score'])}.</p>"
    )


def _cell(count: int | None) -> str:
    return "<td class=n>&ndash;</td>" if count is None else f"<td class=n>{count:,}</td>"


def _trends(trends: dict[str, Any] | None) -> str:
    """A table: a row per top-level category, a column per week; suppressed cells as a dash."""
    if not trends or not trends["periods"]:
        return ""
    head = "".join(f"<th>{_e(p)}</th>" for p in trends["periods"])
    rows = "".join(
        f"<tr><th>{_e(row['title'] or 'Untitled')}</th>{''.join(map(_cell, row['counts']))}</tr>"
        for row in trends["rows"]
    )
    untimed = trends.get("no_plausible_time")
    return (
        f"<h2>Conversations per {_e(trends['by'])}</h2><p>By top-level category; columns are "
        f"the {_e(trends['by'])}s starting on the date shown. {trends['suppressed_cells']:,} "
        f"cells are suppressed (&ndash;): {_e(trends['suppressed_why'])}."
        + (f" {untimed:,} conversations have no plausible time." if untimed else "")
        + f"</p><div class=t><table><tr><th>category</th>{head}</tr>{rows}"
        "</table></div>"
    )


def render_html(report: dict[str, Any]) -> str:
    """One self-contained page: no scripts, nothing fetched, every text escaped."""
    other = report["other"]
    withheld = "".join(
        f"<tr><td>{_e(w['what'])}</td><td>{w['conversations']:,}</td>"
        f"<td>{_e(w['folded_into'])}</td><td>{_e(w['why'])}</td></tr>"
        for w in report["withheld"]
    )
    heading = f"Clusters of {report['run_id']} ({report['alias']})"
    body = (
        f"<h1>{_e(heading)}</h1>"
        f"<p>{report['conversations']:,} conversations. Labels by {_e(report['labels_by'])}. "
        f"Only aggregates: a cluster with fewer than {report['min_conversations']:,} distinct "
        "conversations is not shown on its own, and no query text is included.</p>"
        f"<ul>{''.join(_item(node) for node in report['tree'])}{_other(other)}</ul>"
        + _audited(report.get("audit"))
        + _trends(report.get("trends"))
        + _lineage(report.get("lineage") or {})
        + f"<h2>Folded or withheld</h2><p>{report['quotes_withheld']:,} quotes of user queries "
        "were withheld from titles and descriptions.</p>"
        + (
            "<table><tr><th>what</th><th>conversations</th><th>folded into</th><th>why</th>"
            f"</tr>{withheld}</table>"
            if withheld
            else "<p>No cluster was folded.</p>"
        )
    )
    return PAGE.format(title=_e(heading), body=body)


def publish(view: PublicView, out: Path, audit: AuditResult | None = None) -> list[Path]:
    """Writes ``report.json`` and ``report.html`` into the folder ``out`` (made if missing),
    after the gate (the audit's scores too, when given); returns the two paths."""
    gate(view, audit)
    if out.exists() and not out.is_dir():
        raise PrivacyError(f"{out} is not a folder: give --out a folder to write the report in.")
    out.mkdir(parents=True, exist_ok=True)
    report = public_report(view)
    if audit is not None:
        report["audit"] = {
            "model": audit.model,
            "fields_scored": len(audit.scores),
            "lowest_score": min(audit.scores.values(), default=None),
        }
    written = []
    for name, text in (
        (JSON_NAME, json.dumps(report, indent=2, ensure_ascii=False)),
        (HTML_NAME, render_html(report)),
    ):
        target = check_target(out / name, force=True)
        with replacing(target) as path:
            path.write_text(text, encoding="utf-8")
        written.append(out / name)
    return written
