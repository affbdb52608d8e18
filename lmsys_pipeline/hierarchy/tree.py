"""A hierarchy as plain data: nodes with their level, size, title, parent and children."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from lmsys_pipeline.db.models import NOISE


@dataclass
class Node:
    """A cluster (level 0) or a parent category. ``size``: queries under it."""

    node_id: int
    level: int
    size: int
    title: str
    description: str
    children: list[int] = field(default_factory=list)
    parent: int | None = None


@dataclass
class Grouping:
    """One level's result: parents as (title, description, child ids), the children no parent
    fitted (orphans, kept at their level) and the requests that failed (step → reason)."""

    parents: list[tuple[str, str, list[int]]]
    orphans: list[int] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


@dataclass
class Tree:
    nodes: dict[int, Node]

    @property
    def top_level(self) -> int:
        return max((n.level for n in self.nodes.values()), default=0)

    def level(self, level: int) -> list[Node]:
        """The nodes of ``level``, largest first."""
        found = [n for n in self.nodes.values() if n.level == level]
        return sorted(found, key=lambda n: (-n.size, n.node_id))

    def roots(self) -> list[Node]:
        """Nodes without a parent: the top level, then orphans (highest level first), then
        noise; each group largest first."""
        top = self.top_level

        def rank(node: Node) -> tuple:
            return (node.node_id == NOISE, top - node.level, -node.size, node.node_id)

        return sorted((n for n in self.nodes.values() if n.parent is None), key=rank)

    def orphans(self) -> list[Node]:
        """Clusters or parents below the top that no parent fitted (noise is not one)."""
        top = self.top_level
        return [
            n
            for n in self.roots()
            if n.level < top and n.node_id != NOISE and not (n.level == 0 and top == 0)
        ]

    def children(self, node: Node) -> list[Node]:
        found = [self.nodes[c] for c in node.children]
        return sorted(found, key=lambda n: (-n.size, n.node_id))

    def ancestor(self, node_id: int, level: int) -> Node | None:
        """The node's ancestor at ``level`` (itself at its own level), or None when its chain
        stops below ``level`` (an orphan, noise)."""
        node = self.nodes[node_id]
        while node.level < level and node.parent is not None:
            node = self.nodes[node.parent]
        return node if node.level == level else None

    def walk(self, node: Node, depth: int = 0) -> Iterator[tuple[int, Node]]:
        yield depth, node
        for child in self.children(node):
            yield from self.walk(child, depth + 1)


def add_parents(nodes: dict[int, Node], level: int, grouping: Grouping) -> list[Node]:
    """Adds ``grouping``'s parents to ``nodes`` as ``level``, numbered after the largest id so
    far, and links their children to them; a parent's size is its children's sum."""
    next_id = max(nodes, default=0) + 1
    added = []
    for title, description, children in grouping.parents:
        node = Node(
            next_id,
            level,
            sum(nodes[c].size for c in children),
            title,
            description,
            sorted(children),
        )
        for child in children:
            nodes[child].parent = next_id
        nodes[next_id] = node
        added.append(node)
        next_id += 1
    return added
