"""A hierarchy for its readers: tree lines for the terminal, markdown for the Dagster UI,
nested dicts for ``--json``, and the materialization's metadata."""

from typing import Any

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.hierarchy.tree import Node, Tree
from lmsys_pipeline.labeling.measures import measures_metadata
from lmsys_pipeline.labeling.report import failures_table, spend
from lmsys_pipeline.markdown import table

MARKDOWN_LINES = 300


def _label(node: Node, total: int) -> str:
    kind = "cluster" if node.level == 0 else f"L{node.level}"
    children = f", {len(node.children)} children" if node.children else ""
    return (
        f"{node.title or '(no title)'} — {node.size:,} queries ({node.size / total:.1%}"
        f"{children}) [{kind} {node.node_id}]"
    )


def _root_note(tree: Tree, node: Node) -> str:
    if node.node_id == NOISE:
        return " (noise, kept out of the tree)"
    return " (orphan: no parent fitted)" if node.level < tree.top_level else ""


def tree_lines(tree: Tree, depth: int | None = None) -> list[str]:
    """One line per node, indented with box-drawing branches; roots first (top level, then
    orphans, then noise); ``depth`` levels below each root at most."""
    total = sum(n.size for n in tree.level(0)) or 1
    lines: list[str] = []

    def branch(node: Node, prefix: str, last: bool, below: int) -> None:
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{_label(node, total)}")
        if depth is not None and below >= depth:
            return
        kids = tree.children(node)
        for index, child in enumerate(kids):
            branch(child, prefix + ("   " if last else "│  "), index == len(kids) - 1, below + 1)

    for root in tree.roots():
        lines.append(_label(root, total) + _root_note(tree, root))
        if depth is not None and depth <= 0:
            continue
        kids = tree.children(root)
        for index, child in enumerate(kids):
            branch(child, "", index == len(kids) - 1, 1)
    return lines


def tree_markdown(tree: Tree, max_lines: int = MARKDOWN_LINES) -> str:
    """Nested bullets (parents bold) with sizes and shares; cut after ``max_lines``."""
    total = sum(n.size for n in tree.level(0)) or 1
    lines = []
    for root in tree.roots():
        for depth, node in tree.walk(root):
            title = (node.title or "(no title)").replace("\n", " ")
            name = f"**{title}**" if node.level else title
            note = _root_note(tree, node) if depth == 0 else ""
            lines.append(f"{'  ' * depth}- {name} — {node.size:,} ({node.size / total:.1%}){note}")
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"\n_{len(lines) - max_lines} more nodes not shown_"]
    return "\n".join(lines) or "_empty_"


def node_dict(tree: Tree, node: Node, total: int, depth: int | None) -> dict[str, Any]:
    found = {
        "cluster_id": node.node_id,
        "level": node.level,
        "title": node.title,
        "description": node.description,
        "queries": node.size,
        "share": round(node.size / total, 4),
    }
    if node.children:
        found["children"] = (
            [
                node_dict(tree, c, total, None if depth is None else depth - 1)
                for c in tree.children(node)
            ]
            if depth is None or depth > 0
            else len(node.children)
        )
    return found


def tree_dict(tree: Tree, depth: int | None = None) -> list[dict[str, Any]]:
    total = sum(n.size for n in tree.level(0)) or 1
    return [
        {
            **node_dict(tree, root, total, depth),
            "root": _root_note(tree, root).strip(" ()") or "top",
        }
        for root in tree.roots()
    ]


def levels_table(tree: Tree, targets: list[int]) -> str:
    rows = []
    for level in range(tree.top_level + 1):
        nodes = tree.level(level)
        asked = "—" if level == 0 else (targets[level - 1] if level <= len(targets) else "—")
        orphans = sum(1 for n in tree.orphans() if n.level == level)
        rows.append([level, len(nodes), asked, orphans])
    return table(["level", "nodes", "asked for", "orphans"], rows)


def orphans_table(tree: Tree) -> str:
    total = sum(n.size for n in tree.level(0)) or 1
    orphans = tree.orphans()
    if not orphans:
        return "_none_"
    return table(
        ["level", "id", "queries", "title"],
        [[n.level, n.node_id, f"{n.size:,} ({n.size / total:.1%})", n.title] for n in orphans],
    )


def hierarchy_metadata(report) -> dict[str, Any]:
    """Everything the ``cluster_hierarchy`` materialization shows (markdown as strings)."""
    entry, tree = report.entry, report.tree
    return {
        "hierarchy_run_id": entry.hierarchy_run_id,
        "alias": entry.alias,
        "clustering_run": entry.run_id,
        "summary_run_id": entry.summary_run_id,
        "model": entry.model,
        "prompt_version": entry.prompt_version,
        "status": entry.status,
        "resumed": report.resumed,
        "replaced_hierarchy_runs": report.replaced,
        "levels": entry.levels,
        "level_sizes": entry.level_sizes,
        "top_size": entry.top_size,
        "orphans": entry.orphans,
        **spend(entry),
        **measures_metadata(entry),
        "tree": tree_markdown(tree),
        "levels_table": levels_table(tree, report.targets),
        "orphans_table": orphans_table(tree),
        "failures": failures_table(entry.failures or {}, "step"),
    }
