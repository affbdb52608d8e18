"""Assembles the cluster map of a run: projection, texts, clusters, facets → HTML file."""

from pathlib import Path

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.hierarchy.tree import Tree
from lmsys_pipeline.outputs.hierarchy import HierarchyChoice
from lmsys_pipeline.outputs.map_html import by_cluster, by_level, cluster_items, write_map
from lmsys_pipeline.outputs.map_tree import tree_items
from lmsys_pipeline.outputs.projection import project_run
from lmsys_pipeline.reading.central import central_queries
from lmsys_pipeline.reading.choice import NotFound, SummaryChoice
from lmsys_pipeline.reading.clusters import list_clusters
from lmsys_pipeline.reading.facets import cluster_lifts
from lmsys_pipeline.summarizing.selection import fetch_texts

TREE_EXAMPLES = 3


def build_map(
    db: DatabaseManager,
    run_id: str,
    choice: SummaryChoice | None,
    output: Path,
    *,
    sample: int = 3_000,
    method: str = "tsne",
    seed: int = 42,
    hierarchy: tuple[HierarchyChoice, Tree] | None = None,
    level: int | None = None,
) -> dict:
    """``hierarchy`` (a chosen hierarchy run and its tree): the side panel is its tree and
    the points are coloured by their ancestor at ``level`` (default: the top; 0: clusters)."""
    tree = hierarchy[1] if hierarchy else None
    if level is None:
        level = tree.top_level if tree else 0
    if level and (tree is None or level > tree.top_level):
        top = tree.top_level if tree else 0
        raise NotFound(
            f"--level {level}: "
            + (f"the hierarchy has levels 0 to {top}." if tree else "the run has no hierarchy.")
        )
    projection = project_run(db, run_id, sample=sample, seed=seed, method=method)
    texts = fetch_texts(db, projection.query_ids.tolist())
    rows = list_clusters(db, run_id, choice)
    titles = {row.cluster_id: _marked(row.title, row.tags, row.flags) for row in rows if row.title}
    lifts = (cluster_lifts(db, run_id, "language"), cluster_lifts(db, run_id, "model"))
    colouring = by_level(projection, tree, level) if level else by_cluster(projection, titles)
    if tree is not None:
        examples = central_queries(db, run_id, [r.cluster_id for r in rows], TREE_EXAMPLES)
        items = tree_items(tree, level, colouring.colours, examples, lifts)
    else:
        items = cluster_items(rows, lifts)
    source = (
        f"titles: {choice.alias} ({choice.model}, {choice.summary_run_id})"
        if choice
        else "no summary run yet"
    )
    if hierarchy:
        source += f"; tree: {hierarchy[0].hierarchy_run_id} ({hierarchy[0].model})"
    coloured = f"coloured by level {level}" if level else "coloured by cluster"
    meta = (
        f"{sum(r.size for r in rows):,} queries in {len(rows)} clusters; "
        f"{len(projection.query_ids):,} drawn ({method}), {coloured}; {source}"
    )
    write_map(
        output,
        projection,
        texts,
        titles,
        colouring,
        items,
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
        "hierarchy_run_id": hierarchy[0].hierarchy_run_id if hierarchy else None,
        "level": level,
    }


def _marked(title: str, tags: list[str], flags: list[str]) -> str:
    """The title with an analyst's tags (#) and flags (!) after it, as list-clusters shows."""
    marks = " ".join([*(f"#{t}" for t in tags), *(f"!{f}" for f in flags)])
    return f"{title} {marks}" if marks else title
