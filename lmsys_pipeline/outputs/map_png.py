"""A small PNG of a run's projection, coloured by cluster, for Dagster metadata."""

import base64
import io

import numpy as np

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.outputs.projection import Projection


def map_png(projection: Projection, *, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4.5), dpi=80)
    noise = projection.cluster_ids == NOISE
    if noise.any():
        axes.scatter(*projection.xy[noise].T, s=5, c="#c8c8c8", linewidths=0, label="noise")
    real = ~noise
    axes.scatter(
        *projection.xy[real].T,
        s=8,
        c=projection.cluster_ids[real] % 20,
        cmap="tab20",
        vmin=0,
        vmax=19,
        linewidths=0,
    )
    for cluster in np.unique(projection.cluster_ids[real])[:40]:
        x, y = np.median(projection.xy[projection.cluster_ids == cluster], axis=0)
        axes.annotate(str(cluster), (x, y), fontsize=7, ha="center", va="center")
    axes.set_title(title, fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown that shows the image inline (a data URI: no file to serve)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


METADATA_SAMPLE = 1_000


def run_map_markdown(db, run_id: str, *, title: str, sample: int = METADATA_SAMPLE) -> str:
    """The run's t-SNE picture as inline markdown, for a materialization's metadata."""
    from lmsys_pipeline.outputs.projection import project_run

    projection = project_run(db, run_id, sample=sample)
    return png_markdown(map_png(projection, title=title), f"cluster map of {run_id}")
