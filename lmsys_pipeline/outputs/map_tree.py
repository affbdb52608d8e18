"""The map's side panel when the run has a hierarchy: a collapsible tree (parent → children →
a cluster's description, over-represented languages and models, and example queries), with a
colour swatch beside each node of the level the points are coloured by."""

import html

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.hierarchy.tree import Node, Tree
from lmsys_pipeline.reading.facets import Facet

EXAMPLE_CHARS = 200


def facet_text(facets: list[Facet], label: str) -> str:
    return (f"{label}: " + ", ".join(f"{f.value} x{f.lift:g}" for f in facets)) if facets else ""


def facets_line(cluster_id: int, lifts: tuple[dict, dict]) -> str:
    languages, models = lifts
    return "; ".join(
        t
        for t in (
            facet_text(languages.get(cluster_id, []), "languages"),
            facet_text(models.get(cluster_id, []), "models"),
        )
        if t
    )


def _swatch(colour: str | None) -> str:
    return f'<span class="swatch" style="background:{colour}"></span>' if colour else ""


def groups_under(tree: Tree, node: Node, level: int) -> list[int]:
    """The groups at the colouring ``level`` that hold ``node``'s points: its ancestor there
    (or the highest node of its chain: an orphan), or for a node above, its descendants'."""
    if node.level > level:
        return sorted(
            {g for child in tree.children(node) for g in groups_under(tree, child, level)}
        )
    while node.level < level and node.parent is not None:
        node = tree.nodes[node.parent]
    return [node.node_id]


# Opening a node in the tree dims every point outside the groups of the nodes left open.
FOCUS_SCRIPT = """<script>
document.addEventListener("toggle", function (event) {
  const plot = document.querySelector("#plot .plotly-graph-div");
  if (!plot || !plot.data || event.target.tagName !== "DETAILS") return;
  const open = new Set();
  document.querySelectorAll("#side details[open]").forEach(function (d) {
    (d.dataset.groups || "").split(" ").forEach(function (g) { if (g) open.add(g); });
  });
  const opacity = plot.data.map(function (t) {
    return open.size === 0 || open.has(String(t.meta)) ? 0.75 : 0.08;
  });
  Plotly.restyle(plot, {"marker.opacity": opacity});
}, true);
</script>"""


def _summary(node: Node, total: int, colour: str | None, note: str = "") -> str:
    kind = f"cluster {node.node_id}" if node.level == 0 else f"L{node.level}"
    count = f", {len(node.children)} children" if node.children else ""
    return (
        f"<summary>{_swatch(colour)}<b>{html.escape(node.title or '(no title)')}</b> "
        f'<span class="size">{node.size:,} queries ({node.size / total:.1%}{count}) · '
        f"{kind}{html.escape(note)}</span></summary>"
    )


def _leaf_body(node: Node, examples: dict[int, list[str]], lifts) -> str:
    facets = facets_line(node.node_id, lifts)
    listed = "".join(
        f"<li>{html.escape(q[:EXAMPLE_CHARS])}</li>" for q in examples.get(node.node_id, [])
    )
    return (
        f'<p class="desc">{html.escape(node.description or "")}</p>'
        + (f'<p class="facets">{html.escape(facets)}</p>' if facets else "")
        + (f'<ol class="examples">{listed}</ol>' if listed else "")
    )


def tree_items(
    tree: Tree,
    level: int,
    colours: dict[int, str],
    examples: dict[int, list[str]],
    lifts: tuple[dict, dict],
) -> str:
    """Nested ``<details>`` for every root (top level, orphans, noise), largest first; each
    names the groups of points (coloured at ``level``) it holds, for ``FOCUS_SCRIPT``."""
    total = sum(n.size for n in tree.level(0)) or 1
    top = tree.top_level

    def item(node: Node, note: str = "") -> str:
        head = _summary(node, total, colours.get(node.node_id), note)
        if node.level == 0:
            body = _leaf_body(node, examples, lifts)
        else:
            body = f'<p class="desc">{html.escape(node.description or "")}</p>' + "".join(
                item(child) for child in tree.children(node)
            )
        groups = " ".join(str(g) for g in groups_under(tree, node, level))
        return f'<details data-node="{node.node_id}" data-groups="{groups}">{head}{body}</details>'

    parts = []
    for root in tree.roots():
        if root.node_id == NOISE:
            note = " · noise"
        elif root.level < top:
            note = " · orphan: no parent fitted"
        else:
            note = ""
        parts.append(item(root, note))
    hint = '<p class="meta">Open a category to see its clusters and to light up its points.</p>'
    return hint + "\n".join(parts) + FOCUS_SCRIPT
