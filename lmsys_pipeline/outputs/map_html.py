"""``lmsys map``: a self-contained interactive page of a run (plotly, inlined: no CDN).

Points are a seeded sample of queries in 2-D, coloured by cluster, or by their ancestor at a
level of a hierarchy; hovering shows the query, its cluster's title and that ancestor's.
Beside the plot, every cluster by size with its title, description and the languages and
models over-represented in it (lift) — or, with a hierarchy, the collapsible tree
(``map_tree``).
"""

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.hierarchy.tree import Tree
from lmsys_pipeline.outputs.map_tree import facets_line
from lmsys_pipeline.outputs.output_file import replacing
from lmsys_pipeline.outputs.projection import Projection
from lmsys_pipeline.reading.clusters import ClusterRow

HOVER_CHARS = 160
GREY = "#bbbbbb"
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; height: 100vh; overflow: hidden;
        display: grid; grid-template-columns: minmax(0, 1fr) 400px; }}
#plot {{ min-width: 0; height: 100vh; }}
#side {{ height: 100vh; box-sizing: border-box; overflow-y: auto; border-left: 1px solid #ddd;
         padding: 0 14px; }}
#side h1 {{ font-size: 16px; }} #side p.meta {{ color: #555; font-size: 12px; }}
#side ul {{ list-style: none; padding: 0; }}
#side li {{ margin: 0 0 10px 0; font-size: 13px; }}
#side .size {{ color: #555; }} #side .facets {{ color: #7a4b00; font-size: 12px; }}
#side details {{ margin: 2px 0 2px 14px; font-size: 13px; }}
#side details > summary {{ cursor: pointer; margin-left: -14px; padding: 2px 0; }}
#side p.desc {{ margin: 2px 0 4px 0; color: #333; }}
#side ol.examples {{ margin: 2px 0 6px 0; padding-left: 18px; color: #444; font-size: 12px; }}
#side ol.examples li {{ margin: 0 0 3px 0; font-size: 12px; }}
#side .swatch {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px;
                 margin-right: 5px; vertical-align: baseline; }}
</style></head>
<body><div id="plot">{plot}</div>
<aside id="side"><h1>{title}</h1><p class="meta">{meta}</p>{items}</aside>
</body></html>
"""


def cluster_items(rows: list[ClusterRow], lifts: tuple[dict, dict]) -> str:
    items = []
    for row in rows:
        facets = facets_line(row.cluster_id, lifts)
        items.append(
            f'<li data-cluster="{row.cluster_id}"><b>{row.cluster_id}. '
            f"{html.escape(row.title or '(no title)')}</b> "
            f'<span class="size">{row.size:,} queries ({row.share:.1%})</span><br>'
            f"{html.escape(row.description or '')}"
            + (f'<br><span class="facets">{html.escape(facets)}</span>' if facets else "")
            + "</li>"
        )
    return '<ul id="clusters">' + "\n".join(items) + "</ul>"


@dataclass
class Colouring:
    """What the points are coloured by: each point's group, and per group its name (the
    legend in hover texts) and colour. ``level`` 0: the clusters themselves."""

    level: int
    groups: np.ndarray
    names: dict[int, str]
    colours: dict[int, str]


def palette() -> list[str]:
    import plotly.express as px

    return px.colors.qualitative.Dark24 + px.colors.qualitative.Light24


def by_cluster(projection: Projection, titles: dict[int, str]) -> Colouring:
    colours = palette()
    clusters = sorted(set(projection.cluster_ids.tolist()))
    return Colouring(
        0,
        projection.cluster_ids,
        {
            c: f"{c}: {titles.get(c) or ('noise' if c == NOISE else f'cluster {c}')}"
            for c in clusters
        },
        {c: GREY if c == NOISE else colours[c % len(colours)] for c in clusters},
    )


def by_level(projection: Projection, tree: Tree, level: int) -> Colouring:
    """Each point takes its cluster's ancestor at ``level``, or the highest node of its chain
    when that stops below (an orphan: named so); colours go by group size."""
    group_of = {}
    for cluster in set(projection.cluster_ids.tolist()):
        node = tree.nodes.get(cluster)
        while node is not None and node.level < level and node.parent is not None:
            node = tree.nodes[node.parent]
        group_of[cluster] = node.node_id if node is not None else cluster
    groups = np.array([group_of[c] for c in projection.cluster_ids.tolist()], dtype=np.int64)
    ranked = sorted(set(group_of.values()), key=lambda g: (-tree.nodes[g].size, g))
    colours = palette()
    names, shades = {}, {}
    for rank, group in enumerate(ranked):
        node = tree.nodes[group]
        orphan = " (orphan)" if node.level < level and group != NOISE else ""
        names[group] = f"L{node.level} {node.title}{orphan}"
        shades[group] = GREY if group == NOISE else colours[rank % len(colours)]
    return Colouring(level, groups, names, shades)


def _figure(
    projection: Projection, texts: dict[int, str], titles: dict[int, str], colouring: Colouring
):
    import plotly.graph_objects as go

    figure = go.Figure()
    groups = colouring.groups
    for group in sorted(set(groups.tolist()), key=lambda g: list(colouring.names).index(g)):
        mask = groups == group
        ids = projection.query_ids[mask].tolist()
        clusters = projection.cluster_ids[mask].tolist()
        above = (
            f"<br>{html.escape(colouring.names[group][:HOVER_CHARS])}" if colouring.level else ""
        )
        hover = [
            f"{html.escape(texts[q][:HOVER_CHARS])}<br><b>{c}: "
            f"{html.escape(titles.get(c) or ('noise' if c == NOISE else f'cluster {c}'))}</b>"
            f"{above}"
            for q, c in zip(ids, clusters, strict=True)
        ]
        figure.add_trace(
            go.Scattergl(
                x=projection.xy[mask, 0],
                y=projection.xy[mask, 1],
                mode="markers",
                name=colouring.names[group][:60],
                meta=group,
                text=hover,
                hoverinfo="text",
                customdata=ids,
                marker={"size": 5, "opacity": 0.75, "color": colouring.colours[group]},
            )
        )
    # The side panel names every group, so the plot keeps its width instead of a legend.
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        showlegend=False,
        xaxis={"visible": False},
        yaxis={"visible": False},
        template="plotly_white",
        hoverlabel={"align": "left"},
    )
    return figure


def write_map(
    path: Path,
    projection: Projection,
    texts: dict[int, str],
    titles: dict[int, str],
    colouring: Colouring,
    items: str,
    *,
    title: str,
    meta: str,
) -> None:
    plot = _figure(projection, texts, titles, colouring).to_html(
        full_html=False,
        include_plotlyjs=True,
        config={"displaylogo": False, "responsive": True},
        default_width="100%",
        default_height="100vh",
    )
    page = PAGE.format(title=html.escape(title), meta=html.escape(meta), plot=plot, items=items)
    with replacing(path) as new:
        new.write_text(page, encoding="utf-8")
