"""``lmsys merge-clusters`` (a hierarchy run through Dagster, reported from its ledger row)
and ``lmsys show-hierarchy`` (the stored tree)."""

from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app, fail
from lmsys_pipeline.cli.console import console, print_json
from lmsys_pipeline.cli.options import (
    BaseUrlOption,
    ConcurrencyOption,
    DbUrlOption,
    JsonOption,
    MaxRetriesOption,
    QuietOption,
    RpmOption,
    TimeoutOption,
    VerboseOption,
    database,
    llm_resource,
)
from lmsys_pipeline.cli.tables import titled_table


@app.command("merge-clusters")
def merge_clusters(
    run_id: Annotated[str, typer.Argument(help="The clustering run to organise.")],
    alias: Annotated[
        str, typer.Option(help="The summary alias whose titles the tree is built on.")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            help="provider/name (openai/gpt-4o-mini, anthropic/..., ollama/..., vllm/...); "
            "default local/agglomerative (offline)."
        ),
    ] = None,
    levels: Annotated[int | None, typer.Option(help="Parent levels above the clusters.")] = None,
    top: Annotated[int | None, typer.Option(help="Nodes wanted at the top level.")] = None,
    merge_ratio: Annotated[
        float | None, typer.Option(help="Parents per child between levels (default 0.2).")
    ] = None,
    neighborhood_size: Annotated[
        int | None, typer.Option(help="Clusters per neighbourhood (LLM; default 40).")
    ] = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (0).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of k-means and the requests.")] = None,
    restart: Annotated[
        bool,
        typer.Option(
            help="Start a new hierarchy run instead of resuming, and ask the model again "
            "(answers cached before are not used)."
        ),
    ] = False,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Organise a run's clusters into parent categories, level by level (asset
    cluster_hierarchy, partition run x alias). Prints the hierarchy run id and the tree."""
    from lmsys_pipeline.cli.alias_run import run_alias_asset
    from lmsys_pipeline.hierarchy.kind import HIERARCHY_RUNS

    llm = llm_resource(timeout_s=timeout, max_retries=max_retries, base_url=base_url)
    overrides = {
        "model": model,
        "levels": levels,
        "top": top,
        "merge_ratio": merge_ratio,
        "neighborhood_size": neighborhood_size,
        "concurrency": concurrency,
        "rpm": rpm,
        "temperature": temperature,
        "seed": seed,
    }
    entry = run_alias_asset(
        HIERARCHY_RUNS,
        run_id,
        alias,
        overrides,
        llm=llm,
        restart=restart,
        db_url=db_url,
        verbose=verbose,
        quiet=quiet,
        as_json=as_json,
    )
    if entry is None:
        return
    _print_tree(database(db_url), run_id, entry.hierarchy_run_id, depth=0)


def _print_tree(db, run_id: str, hierarchy_run_id: str, depth: int | None) -> None:
    from lmsys_pipeline.hierarchy.report import tree_lines
    from lmsys_pipeline.outputs.hierarchy import choose_hierarchy, load_tree

    choice = choose_hierarchy(db, run_id, hierarchy_run_id=hierarchy_run_id)
    for line in tree_lines(load_tree(db, choice), depth):
        console.print(line)


@app.command("show-hierarchy")
def show_hierarchy(
    run_id: Annotated[str, typer.Argument(help="The clustering run id.")],
    alias: Annotated[
        str | None, typer.Option(help="The alias's latest hierarchy (default: the run's latest).")
    ] = None,
    hierarchy_run_id: Annotated[
        str | None, typer.Option("--hierarchy-run-id", help="This hierarchy run.")
    ] = None,
    depth: Annotated[
        int | None, typer.Option(min=0, help="Levels shown below each root (default: all).")
    ] = None,
    db_url: DbUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The tree of a hierarchy run: every node with its queries, share and title, roots first
    (top level, then orphans, then HDBSCAN noise)."""
    from lmsys_pipeline.hierarchy.report import tree_dict, tree_lines
    from lmsys_pipeline.outputs.hierarchy import choose_hierarchy, load_tree

    if alias and hierarchy_run_id:
        fail("Give --alias or --hierarchy-run-id, not both.")
    db = database(db_url)
    choice = choose_hierarchy(db, run_id, alias=alias, hierarchy_run_id=hierarchy_run_id)
    tree = load_tree(db, choice)
    if as_json:
        print_json(
            {"run_id": run_id, "hierarchy": choice.as_dict(), "roots": tree_dict(tree, depth)}
        )
        return
    console.print(
        f"{run_id}: {choice.hierarchy_run_id} (alias {choice.alias}, {choice.model}, "
        f"{choice.status}; {choice.chosen_by}) — {len(tree.level(0))} clusters, "
        f"{tree.top_level} levels above them, {len(tree.orphans())} orphans",
        style="bold",
    )
    for line in tree_lines(tree, depth):
        console.print(line)


def hierarchy_for(db, run_id: str, choice, hierarchy_run_id: str | None):
    """(hierarchy choice, tree) for a read command: the given hierarchy run, else the latest
    built on the summary run in use; (None, None) when there is none."""
    from lmsys_pipeline.outputs.hierarchy import choose_hierarchy, load_tree

    if hierarchy_run_id is None and choice is None:
        return None, None
    found = choose_hierarchy(
        db,
        run_id,
        hierarchy_run_id=hierarchy_run_id,
        summary_run_id=choice.summary_run_id if choice else None,
        required=hierarchy_run_id is not None,
    )
    return (found, load_tree(db, found)) if found else (None, None)


def print_grouped(db, run_id, choice, hierarchy_run_id, rows, level: int, as_json: bool) -> None:
    """``list-clusters --level``: the clusters under their parents at ``level``."""
    from lmsys_pipeline.outputs.hierarchy import grouped_by_level

    hierarchy, tree = hierarchy_for(db, run_id, choice, hierarchy_run_id)
    if tree is None:
        fail(
            f"Clustering run {run_id} has no hierarchy on these titles: lmsys merge-clusters "
            f"{run_id} --alias {choice.alias if choice else '<alias>'} builds one."
        )
    groups = grouped_by_level(tree, rows, level)
    total = sum(n.size for n in tree.level(0)) or 1
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "hierarchy": hierarchy.as_dict(),
                "level": level,
                "groups": [
                    {
                        "cluster_id": parent.node_id if parent else None,
                        "title": parent.title if parent else None,
                        "queries": sum(r.size for r in members),
                        "share": round(sum(r.size for r in members) / total, 4),
                        "clusters": [r.as_dict() for r in members],
                    }
                    for parent, members in groups
                ],
            }
        )
        return
    console.print(
        f"{run_id}: clusters under their level-{level} parents in {hierarchy.hierarchy_run_id} "
        f"(alias {hierarchy.alias}, {hierarchy.model})",
        style="bold",
    )
    table = titled_table(
        f"{len(groups)} groups at level {level}",
        [
            ("parent", "left"),
            ("cluster", "right"),
            ("queries", "right"),
            ("share", "right"),
            ("title", "left"),
        ],
    )
    for parent, members in groups:
        size = sum(r.size for r in members)
        heading = (
            f"{parent.title} [{parent.node_id}]" if parent else f"(no parent at level {level})"
        )
        table.add_row(heading, "", f"{size:,}", f"{size / total:.1%}", "", style="bold")
        for row in members:
            table.add_row(
                "", str(row.cluster_id), f"{row.size:,}", f"{row.share:.1%}", row.title or ""
            )
    console.print(table)
