"""Assembles the cluster map of a run: projection, texts, clusters, facets → HTML file."""

from pathlib import Path

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.reading.choice import SummaryChoice
from lmsys_pipeline.reading.clusters import list_clusters
from lmsys_pipeline.reading.facets import cluster_lifts
from lmsys_pipeline.reading.map_html import write_map
from lmsys_pipeline.reading.projection import project_run
from lmsys_pipeline.summarizing.selection import fetch_texts


def build_map(
    db: DatabaseManager,
    run_id: str,
    choice: SummaryChoice | None,
    output: Path,
    *,
    sample: int = 3_000,
    method: str = "tsne",
    seed: int = 42,
) -> dict:
    projection = project_run(db, run_id, sample=sample, seed=seed, method=method)
    texts = fetch_texts(db, projection.query_ids.tolist())
    rows = list_clusters(db, run_id, choice)
    titles = (
        f"titles: {choice.alias} ({choice.model}, {choice.summary_run_id})"
        if choice
        else "no summary run yet"
    )
    meta = (
        f"{sum(r.size for r in rows):,} queries in {len(rows)} clusters; "
        f"{len(projection.query_ids):,} drawn ({method}); {titles}"
    )
    write_map(
        output,
        projection,
        texts,
        rows,
        cluster_lifts(db, run_id, "language"),
        cluster_lifts(db, run_id, "model"),
        title=f"Cluster map — {run_id}",
        meta=meta,
    )
    return {
        "run_id": run_id,
        "output": str(output),
        "points": len(projection.query_ids),
        "clusters": len(rows),
        "projection": method,
        "summary_run_id": choice.summary_run_id if choice else None,
    }
