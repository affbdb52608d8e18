"""Label measures of a hierarchy's parent categories (labeling/measures.py), stored with the
hierarchy run: member fit level by level (a query's most similar title among the level's
parents is its own parent's), sibling overlap among parents under one parent (or among the
top-level parents) and duplicate titles within a level."""

from collections import defaultdict

import numpy as np

from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.hierarchy.tree import Tree
from lmsys_pipeline.labeling.measures import (
    duplicate_titles,
    member_fit,
    sampled_members,
    sibling_overlap,
)
from lmsys_pipeline.summarizing.selection import RunView


def _clusters_under(tree: Tree, node_id: int) -> list[int]:
    node = tree.nodes[node_id]
    if node.level == 0:
        return [node_id]
    return [c for child in node.children for c in _clusters_under(tree, child)]


def hierarchy_measures(
    view: RunView, tree: Tree, embedder: Embedder, *, per_node: int = 20, seed: int = 42
) -> dict[str, float | int | None]:
    parents = [n for n in tree.nodes.values() if n.level >= 1]
    hits = total = 0.0
    duplicates = 0
    for level in sorted({n.level for n in parents}):
        nodes = {n.node_id: n.title for n in parents if n.level == level}
        rows = {
            node: np.concatenate([view.rows[view.members[c]] for c in _clusters_under(tree, node)])
            for node in nodes
        }
        members = sampled_members(view.vectors, rows, per_node, seed)
        fit = member_fit(nodes, members, embedder)
        if fit is not None:
            queries = sum(len(m) for m in members.values())
            hits, total = hits + fit * queries, total + queries
        duplicates += duplicate_titles(nodes.values())
    siblings = defaultdict(list)
    for node in parents:
        siblings[node.parent].append(node.node_id)
    pairs = [
        (a, b) for group in siblings.values() for i, a in enumerate(group) for b in group[i + 1 :]
    ]
    return {
        "member_fit": round(hits / total, 4) if total else None,
        "member_fit_queries": int(total),
        "sibling_overlap": sibling_overlap({n.node_id: n.title for n in parents}, pairs),
        "duplicate_titles": duplicates,
    }
