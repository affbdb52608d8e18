"""``lmsys map``: a self-contained interactive page of a run (plotly, inlined: no CDN).

Points are a seeded sample of queries in 2-D, coloured by cluster; hovering shows the query and
its cluster's title. Beside the plot, every cluster by size with its title, description and
the languages and models over-represented in it (lift).
"""

import html
from pathlib import Path

from lmsys_pipeline.clustering.fit import NOISE
from lmsys_pipeline.reading.clusters import ClusterRow
from lmsys_pipeline.reading.facets import Facet
from lmsys_pipeline.reading.projection import Projection

HOVER_CHARS = 160
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
</style></head>
<body><div id="plot">{plot}</div>
<aside id="side"><h1>{title}</h1><p class="meta">{meta}</p><ul id="clusters">{items}</ul></aside>
</body></html>
"""


def _facet_text(facets: list[Facet], label: str) -> str:
    return (f"{label}: " + ", ".join(f"{f.value} x{f.lift:g}" for f in facets)) if facets else ""


def cluster_items(
    rows: list[ClusterRow],
    language_lift: dict[int, list[Facet]],
    model_lift: dict[int, list[Facet]],
) -> str:
    items = []
    for row in rows:
        facets = "; ".join(
            t
            for t in (
                _facet_text(language_lift.get(row.cluster_id, []), "languages"),
                _facet_text(model_lift.get(row.cluster_id, []), "models"),
            )
            if t
        )
        items.append(
            f'<li data-cluster="{row.cluster_id}"><b>{row.cluster_id}. '
            f"{html.escape(row.title or '(no title)')}</b> "
            f'<span class="size">{row.size:,} queries ({row.share:.1%})</span><br>'
            f"{html.escape(row.description or '')}"
            + (f'<br><span class="facets">{html.escape(facets)}</span>' if facets else "")
            + "</li>"
        )
    return "\n".join(items)


def _figure(projection: Projection, texts: dict[int, str], titles: dict[int, str]):
    import plotly.express as px
    import plotly.graph_objects as go

    palette = px.colors.qualitative.Dark24 + px.colors.qualitative.Light24
    figure = go.Figure()
    for cluster in sorted(set(projection.cluster_ids.tolist())):
        mask = projection.cluster_ids == cluster
        ids = projection.query_ids[mask].tolist()
        title = titles.get(cluster) or ("noise" if cluster == NOISE else f"cluster {cluster}")
        hover = [
            f"{html.escape(texts[q][:HOVER_CHARS])}<br><b>{cluster}: {html.escape(title)}</b>"
            for q in ids
        ]
        figure.add_trace(
            go.Scattergl(
                x=projection.xy[mask, 0],
                y=projection.xy[mask, 1],
                mode="markers",
                name=f"{cluster}: {title}"[:60],
                text=hover,
                hoverinfo="text",
                customdata=ids,
                marker={
                    "size": 5,
                    "opacity": 0.75,
                    "color": "#bbbbbb" if cluster == NOISE else palette[cluster % len(palette)],
                },
            )
        )
    # The side list names every cluster, so the plot keeps its width instead of a legend.
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
    rows: list[ClusterRow],
    language_lift: dict[int, list[Facet]],
    model_lift: dict[int, list[Facet]],
    *,
    title: str,
    meta: str,
) -> None:
    titles = {row.cluster_id: row.title for row in rows if row.title}
    plot = _figure(projection, texts, titles).to_html(
        full_html=False,
        include_plotlyjs=True,
        config={"displaylogo": False, "responsive": True},
        default_width="100%",
        default_height="100vh",
    )
    page = PAGE.format(
        title=html.escape(title),
        meta=html.escape(meta),
        plot=plot,
        items=cluster_items(rows, language_lift, model_lift),
    )
    path.write_text(page, encoding="utf-8")
