"""One hierarchy run, end to end: level 0 from the summary run, parent levels up to the top
(offline baseline or LLM), the tree written whole, the ledger closed (``failed`` when an error
stops the run)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.embedding.embedders import load_embedder as default_embedder
from lmsys_pipeline.hierarchy.asking import Asker
from lmsys_pipeline.hierarchy.clio import LevelContext, llm_level, node_text
from lmsys_pipeline.hierarchy.ledger import fail, finish, record_progress, save_tree
from lmsys_pipeline.hierarchy.measures import hierarchy_measures
from lmsys_pipeline.hierarchy.offline import Features, membership_profiles, merged, offline_level
from lmsys_pipeline.hierarchy.params import HierarchyInputError
from lmsys_pipeline.hierarchy.prepare import PreparedHierarchy
from lmsys_pipeline.hierarchy.tree import Grouping, Node, Tree, add_parents
from lmsys_pipeline.progress import OnProgress, no_progress
from lmsys_pipeline.summarizing.ledger import summary_labels
from lmsys_pipeline.summarizing.params import SummaryParams
from lmsys_pipeline.summarizing.selection import build_briefs, load_run_view

KEYWORD_QUERIES = 50  # representative queries per cluster behind the offline keyword profile

Step = Callable[[list[Node], int, int], Grouping]


@dataclass
class HierarchyReport:
    entry: HierarchyRun
    resumed: bool
    replaced: list[str]
    tree: Tree
    targets: list[int]
    seconds_asking: float = 0.0
    request_steps: list[int] = field(default_factory=list)


def level_zero(db: DatabaseManager, run_id: str, summary_run_id: str) -> list[Node]:
    """The run's clusters with their sizes and the summary run's titles."""
    sizes = cluster_sizes(db, run_id)
    labels = summary_labels(db, summary_run_id)
    missing = [c for c in sizes if c not in labels]
    if missing:
        raise HierarchyInputError(
            f"Summary run {summary_run_id} has no title for {len(missing)} clusters of "
            f"{run_id} (e.g. {missing[0]}): run lmsys summarize again first."
        )
    return [Node(c, 0, sizes[c], *labels[c]) for c in sorted(sizes)]


def _offline_step(
    db: DatabaseManager,
    run_id: str,
    clusters: list[Node],
    params,
    load_embedder: Callable[[str], Embedder],
) -> Step:
    """Each cluster's features from the run (centroid, membership profile, representative
    queries); a parent's from its children's. The run's embedding model names the parents."""
    view = load_run_view(db, run_id)
    embedder = load_embedder(view.embedding_model)
    ids = [c.node_id for c in clusters]
    briefs = build_briefs(
        db, view, SummaryParams(max_queries=KEYWORD_QUERIES, contrast_neighbors=0), ids
    )
    profiles = membership_profiles(view, ids, params.seed)
    features = {
        c: Features(view.centroids[c].astype(np.float64), profiles[i], briefs[c].queries)
        for i, c in enumerate(ids)
    }
    sizes = {c.node_id: c.size for c in clusters}

    def step(children: list[Node], target: int, level: int) -> Grouping:
        for child in children:
            sizes[child.node_id] = child.size
            if child.node_id not in features:  # a parent made by the level below
                kids = sorted(child.children, key=lambda c: -sizes[c])
                features[child.node_id] = merged(
                    [features[c] for c in kids], [sizes[c] for c in kids]
                )
        return offline_level(
            children,
            [features[c.node_id] for c in children],
            target,
            params.keyword_weight,
            params.profile_weight,
            embedder,
        )

    return step


def _llm_step(context: LevelContext) -> Step:
    def step(children: list[Node], target: int, level: int) -> Grouping:
        vectors = context.embed([node_text(c.title, c.description) for c in children])
        return llm_level(children, vectors, target, level, context)

    return step


def build_hierarchy(
    db: DatabaseManager,
    prepared: PreparedHierarchy,
    *,
    load_embedder: Callable[[str], Embedder] = default_embedder,
    log: Callable[[str], None] = lambda message: None,
    on_progress: OnProgress = no_progress,
) -> HierarchyReport:
    """Builds every level of the prepared hierarchy run, writes the tree and closes the
    ledger entry. Answers already given (a killed or partial run) come from the cache.
    ``on_progress`` hears each step's requests done and failed of all, as they are stored."""
    started_at = time.perf_counter()
    params, run_id = prepared.params, prepared.run_id
    load_embedder = cache(load_embedder)
    asker = None
    try:
        zero = level_zero(db, run_id, prepared.summary_run_id)
        nodes = {n.node_id: n for n in zero}
        clusters = [n for n in zero if n.node_id != NOISE]
        log(
            f"{prepared.hierarchy_run_id} ({'resumed' if prepared.started.resumed else 'new'}, "
            f"{params.model}): {len(clusters)} clusters, parents per level {prepared.targets}"
        )
        if prepared.endpoint is None:
            step = _offline_step(db, run_id, clusters, params, load_embedder)
        else:
            from lmsys_pipeline.clustering.runs import load_run

            embedder = load_embedder(load_run(db, run_id)[1].embedding_model)
            asker = Asker(
                db,
                run_id,
                prepared.alias,
                prepared.hierarchy_run_id,
                prepared.endpoint,
                params,
                log,
                on_progress,
                fresh_since=prepared.started.fresh_since,
            )
            step = _llm_step(LevelContext(asker, embedder.embed, prepared.endpoint, params))
        _build_levels(db, prepared, nodes, clusters, step, log)
        tree = Tree(nodes)
        save_tree(db, prepared.hierarchy_run_id, run_id, prepared.alias, list(nodes.values()))
        view = load_run_view(db, run_id)
        measures = hierarchy_measures(view, tree, load_embedder(view.embedding_model))
    except BaseException:
        # Whatever stopped it (a user error, a bug, Ctrl-C): the ledger never stays running.
        fail(db, prepared.hierarchy_run_id, params, time.perf_counter() - started_at)
        raise
    entry = finish(
        db,
        prepared.hierarchy_run_id,
        params,
        clusters_total=len(zero),
        top_size=len(tree.level(tree.top_level)) if tree.top_level else 0,
        orphans=len(tree.orphans()),
        seconds=time.perf_counter() - started_at,
        measures=measures,
    )
    return HierarchyReport(
        entry,
        prepared.started.resumed,
        prepared.started.replaced,
        tree,
        prepared.targets,
        asker.seconds_asking if asker else 0.0,
        asker.steps if asker else [],
    )


def _build_levels(db, prepared, nodes, clusters, step: Step, log) -> None:
    """Each target in turn, skipped when the nodes left are not above it; stops when a level
    would put everything under one parent."""
    children, sizes, level = clusters, [len(clusters)], 1
    for target in prepared.targets:
        if len(children) <= target:
            log(f"{len(children)} nodes left, not above {target}: that level is skipped")
            continue
        grouping = step(children, target, level)
        if not grouping.parents or (len(grouping.parents) == 1 and not grouping.orphans):
            log(f"level {level} would hold everything under one parent: stopping below it")
            break
        parents = add_parents(nodes, level, grouping)
        sizes.append(len(parents))
        record_progress(db, prepared.hierarchy_run_id, level_sizes=sizes)
        log(
            f"level {level}: {len(parents)} parents over {len(children)} nodes (target "
            f"{target}), {len(grouping.orphans)} orphans, {len(grouping.failures)} failed requests"
        )
        children, level = parents, level + 1
