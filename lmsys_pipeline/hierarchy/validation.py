"""The hierarchy's checks, on the rows as stored: what the ``cluster_hierarchy`` asset reports.

- ``every_cluster_once_at_level_0``: each cluster of the run is one level-0 row, and no node is
  the child of two parents (children lists and parent ids agree).
- ``parents_have_two_children``: every parent has at least two children. Both algorithms keep
  a child that no parent fits (or that is alone) as an orphan instead of a one-child parent.
- ``no_cycles``: following parents always climbs one level at a time and ends at a root.
- ``top_level_size``: the top holds at most the parents asked for, and with the orphans kept
  below it at least half of them (candidate parents that no child chose are dropped, a child
  no parent fits stays an orphan). It fails when no level could be built or the tree stopped
  early (a level would have put everything under one parent).
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lmsys_pipeline.hierarchy.tree import Node, Tree


@dataclass(frozen=True)
class Row:
    cluster_id: int
    parent_cluster_id: int | None
    level: int
    children_ids: list[int]


@dataclass
class CheckOutcome:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def _once_at_level_zero(rows: list[Row], cluster_ids: set[int]) -> CheckOutcome:
    zero = [r.cluster_id for r in rows if r.level == 0]
    repeated = sorted(c for c, n in Counter(zero).items() if n > 1)
    missing = sorted(cluster_ids - set(zero))
    extra = sorted(set(zero) - cluster_ids)
    parent_of: dict[int, list[int]] = {}
    for row in rows:
        for child in row.children_ids:
            parent_of.setdefault(child, []).append(row.cluster_id)
    by_id = {r.cluster_id: r for r in rows}
    inconsistent = sorted(
        c
        for c, parents in parent_of.items()
        if len(parents) > 1 or c not in by_id or by_id[c].parent_cluster_id != parents[0]
    )
    inconsistent += sorted(
        r.cluster_id
        for r in rows
        if r.parent_cluster_id is not None and r.cluster_id not in parent_of
    )
    return CheckOutcome(
        not (repeated or missing or extra or inconsistent),
        {
            "clusters": len(cluster_ids),
            "level_0_rows": len(zero),
            "repeated": repeated[:20],
            "missing": missing[:20],
            "not_in_run": extra[:20],
            "parent_links_inconsistent": inconsistent[:20],
        },
    )


def _two_children(rows: list[Row]) -> CheckOutcome:
    parents = [r for r in rows if r.level > 0]
    thin = sorted(r.cluster_id for r in parents if len(r.children_ids) < 2)
    return CheckOutcome(not thin, {"parents": len(parents), "with_fewer_than_two": thin[:20]})


def _no_cycles(rows: list[Row]) -> CheckOutcome:
    by_id = {r.cluster_id: r for r in rows}
    broken = []
    for row in rows:
        seen, node = {row.cluster_id}, row
        while node.parent_cluster_id is not None:
            parent = by_id.get(node.parent_cluster_id)
            if parent is None or parent.level != node.level + 1 or parent.cluster_id in seen:
                broken.append(row.cluster_id)
                break
            seen.add(parent.cluster_id)
            node = parent
    return CheckOutcome(not broken, {"nodes": len(rows), "broken_chains": sorted(broken)[:20]})


def _top_size(tree: Tree, targets: list[int]) -> CheckOutcome:
    top = tree.top_level
    parents = len(tree.level(top)) if top else 0
    orphans = len(tree.orphans())
    asked = targets[-1] if targets else 0
    low = max(2, math.ceil(asked / 2))
    return CheckOutcome(
        top > 0 and parents <= asked and parents + orphans >= low,
        {
            "top_level": top,
            "top_size": parents,
            "orphans_below_the_top": orphans,
            "asked": asked,
            "allowed": f"at most {asked} parents, at least {low} with the orphans",
        },
    )


def tree_checks(rows: list[Row], cluster_ids: set[int], targets: list[int]) -> dict:
    """Check name → outcome, for the stored ``rows`` of one hierarchy run."""
    tree = Tree(
        {
            r.cluster_id: Node(
                r.cluster_id, r.level, 0, "", "", r.children_ids, r.parent_cluster_id
            )
            for r in rows
        }
    )
    return {
        "every_cluster_once_at_level_0": _once_at_level_zero(rows, cluster_ids),
        "parents_have_two_children": _two_children(rows),
        "no_cycles": _no_cycles(rows),
        "top_level_size": _top_size(tree, targets),
    }
