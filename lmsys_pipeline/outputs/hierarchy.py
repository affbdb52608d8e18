"""Which hierarchy run a read command is about, and its tree as stored."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.hierarchy import ClusterHierarchy, HierarchyRun
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.hierarchy.tree import Node, Tree
from lmsys_pipeline.hierarchy.validation import Row
from lmsys_pipeline.reading.choice import NotFound, require_run

SHOWN_STATUSES = ("completed", "partial")


@dataclass(frozen=True)
class HierarchyChoice:
    hierarchy_run_id: str
    run_id: str
    alias: str
    summary_run_id: str
    model: str
    status: str
    created_at: datetime
    chosen_by: str

    def as_dict(self) -> dict:
        return {
            "hierarchy_run_id": self.hierarchy_run_id,
            "alias": self.alias,
            "summary_run_id": self.summary_run_id,
            "model": self.model,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "chosen_by": self.chosen_by,
        }


def _choice(entry: HierarchyRun, chosen_by: str) -> HierarchyChoice:
    return HierarchyChoice(
        entry.hierarchy_run_id,
        entry.run_id,
        entry.alias,
        entry.summary_run_id,
        entry.model,
        entry.status,
        entry.created_at,
        chosen_by,
    )


def choose_hierarchy(
    db: DatabaseManager,
    run_id: str,
    *,
    alias: str | None = None,
    hierarchy_run_id: str | None = None,
    summary_run_id: str | None = None,
    required: bool = True,
) -> HierarchyChoice | None:
    """The hierarchy run asked for, else the newest finished one of ``alias`` (or of the
    summary run, or of the run). None when there is none and ``required`` is False."""
    require_run(db, run_id)
    with db.get_session() as session:
        if hierarchy_run_id is not None:
            entry = session.get(HierarchyRun, hierarchy_run_id)
            if entry is None or entry.run_id != run_id:
                raise NotFound(
                    f"Hierarchy run {hierarchy_run_id} does not belong to {run_id}: "
                    f"lmsys show-hierarchy {run_id} shows its latest."
                )
            return _choice(entry, "given")
        statement = (
            select(HierarchyRun)
            .where(HierarchyRun.run_id == run_id, HierarchyRun.status.in_(SHOWN_STATUSES))
            .order_by(HierarchyRun.created_at.desc())
        )
        if alias is not None:
            statement = statement.where(HierarchyRun.alias == alias)
        if summary_run_id is not None:
            statement = statement.where(HierarchyRun.summary_run_id == summary_run_id)
        entry = session.execute(statement.limit(1)).scalars().first()
    if entry is None:
        if not required:
            return None
        scope = f" for alias {alias}" if alias else ""
        raise NotFound(
            f"Clustering run {run_id} has no hierarchy{scope} yet: lmsys merge-clusters "
            f"{run_id} --alias {alias or '<alias>'} builds one."
        )
    return _choice(entry, f"alias {alias}, its latest" if alias else "the latest")


def stored_rows(db: DatabaseManager, hierarchy_run_id: str) -> list[ClusterHierarchy]:
    with db.get_session() as session:
        rows = (
            session.execute(
                select(ClusterHierarchy)
                .where(ClusterHierarchy.hierarchy_run_id == hierarchy_run_id)
                .order_by(ClusterHierarchy.level, ClusterHierarchy.cluster_id)
            )
            .scalars()
            .all()
        )
        for row in rows:
            session.expunge(row)
    return list(rows)


def check_rows(rows: list[ClusterHierarchy]) -> list[Row]:
    return [
        Row(r.cluster_id, r.parent_cluster_id, r.level, list(r.children_ids or [])) for r in rows
    ]


def load_tree(db: DatabaseManager, choice: HierarchyChoice) -> Tree:
    """The stored tree, with sizes from the run's assignments (a parent's: its clusters') and
    the clusters' titles as their summary run holds them now (``lmsys edit rename-cluster``
    changes those rows; the tree keeps the copy it was built from)."""
    sizes = cluster_sizes(db, choice.run_id)
    current = _current_titles(db, choice.summary_run_id)
    nodes = {
        r.cluster_id: Node(
            r.cluster_id,
            r.level,
            sizes.get(r.cluster_id, 0) if r.level == 0 else 0,
            *(
                current.get(r.cluster_id)
                if r.level == 0 and r.cluster_id in current
                else (r.title or "", r.description or "")
            ),
            list(r.children_ids or []),
            r.parent_cluster_id,
        )
        for r in stored_rows(db, choice.hierarchy_run_id)
    }
    for level in range(1, max((n.level for n in nodes.values()), default=0) + 1):
        for node in nodes.values():
            if node.level == level:
                node.size = sum(nodes[c].size for c in node.children if c in nodes)
    return Tree(nodes)


def _current_titles(db: DatabaseManager, summary_run_id: str) -> dict[int, tuple[str, str]]:
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                ClusterSummary.cluster_id, ClusterSummary.title, ClusterSummary.description
            ).where(ClusterSummary.summary_run_id == summary_run_id)
        ).all()
    return {c: (t or "", d or "") for c, t, d in rows}


def ancestor_titles(tree: Tree) -> dict[int, list[str | None]]:
    """Each cluster → the titles of its ancestors at levels 1..top (None above an orphan)."""
    top = tree.top_level
    found = {}
    for node in tree.level(0):
        found[node.node_id] = [
            (ancestor.title if ancestor else None)
            for ancestor in (tree.ancestor(node.node_id, level) for level in range(1, top + 1))
        ]
    return found


def grouped_by_level(tree: Tree, rows: list, level: int) -> list[tuple[Node | None, list]]:
    """``rows`` (each with a ``cluster_id``) under their ancestor at ``level``, largest group
    first; clusters with no ancestor there (orphans, noise) last, under None."""
    if not 1 <= level <= tree.top_level:
        raise NotFound(f"--level {level}: this hierarchy has levels 1 to {tree.top_level}.")
    groups: dict[int | None, list] = {}
    for row in rows:
        above = tree.ancestor(row.cluster_id, level) if row.cluster_id in tree.nodes else None
        groups.setdefault(above.node_id if above else None, []).append(row)
    ranked = sorted((g for g in groups if g is not None), key=lambda g: (-tree.nodes[g].size, g))
    found = [(tree.nodes[g], groups[g]) for g in ranked]
    return found + ([(None, groups[None])] if None in groups else [])
