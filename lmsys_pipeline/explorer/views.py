"""What each page shows, as plain data: the JSON of its ``/api`` twin, which the template
renders. Built only from ``data`` (the pipeline's own functions); what is read over a whole
run (the run list, a run's tree and clusters, its counts) is held between requests while the
data is unchanged (``held.py``), and links to Dagster are read on every request."""

from urllib.parse import quote

from lmsys_pipeline import explorer_links as links
from lmsys_pipeline.explorer import curation, data
from lmsys_pipeline.labeling.measures import measures_line

CENTRAL = 10


def run_links(run_id: str, dagster_base: str, dagster_run: str | None) -> dict:
    found = {
        "page": links.run_page(run_id),
        "dagster_partition": f"{dagster_base}/assets/cluster_run?partition={quote(run_id)}",
    }
    if dagster_run:
        found["dagster_run"] = f"{dagster_base}/runs/{dagster_run}"
    return found


def alias_for(explorer, run_id: str, alias: str | None) -> str | None:
    """``?alias=`` when given, else the alias of the run's latest hierarchy (None: none)."""
    return alias if alias else data.default_alias(explorer.db, run_id)


def runs_view(explorer) -> list[dict]:
    found = explorer.held.get(explorer.db, ("runs",), lambda: data.runs(explorer.db))
    dagster = _dagster_runs(explorer, [r.run_id for r in found])
    return [
        {
            **r.as_dict(),
            "links": run_links(r.run_id, explorer.settings.dagster_base, dagster.get(r.run_id)),
        }
        for r in found
    ]


def _dagster_runs(explorer, run_ids: list[str]) -> dict[str, str]:
    try:
        return explorer.dagster.latest(run_ids)
    except Exception as error:  # a courtesy link: the page stands without it
        data_log(f"Dagster runs could not be read ({type(error).__name__}: {error}).")
        return {}


def data_log(message: str) -> None:
    import logging

    logging.getLogger("lmsys_pipeline.explorer").warning(message)


def run_view(explorer, run_id: str, alias: str | None) -> dict:
    held = explorer.held.get(
        explorer.db, ("run", run_id, alias), lambda: _run_view(explorer, run_id, alias)
    )
    dagster = _dagster_runs(explorer, [run_id])
    links = run_links(run_id, explorer.settings.dagster_base, dagster.get(run_id))
    return {**held, "run": {**held["run"], "links": links}}


def _run_view(explorer, run_id: str, alias: str | None) -> dict:
    db = explorer.db
    row = data.run(db, run_id)
    alias = alias_for(explorer, run_id, alias)
    choice = data.summary_choice(db, run_id, alias)
    found, tree = data.hierarchy(db, run_id, choice)
    in_use = row.label_measures.get(choice.alias, {}) if choice and choice.alias else {}
    return {
        "run": row.as_dict(),
        "summary_runs": [c.as_dict() for c in data.summary_runs(db, run_id)],
        "summary_run": choice.as_dict() if choice else None,
        "hierarchy": found.as_dict() if found else None,
        # the label measures of the titles in use and their alias's parents, in words
        "label_measures": {kind: measures_line(m) for kind, m in in_use.items()},
        "tree": data.tree_dict(tree) if tree else None,
        "clusters": [c.as_dict() for c in data.clusters(db, run_id, choice)],
        "previous_run": data.previous_run(db, run_id),
    }


def cluster_view(explorer, run_id: str, cluster_id: int, alias: str | None) -> dict:
    db = explorer.db
    data.require_run(db, run_id)  # 404 for an unknown run before anything else
    alias = alias_for(explorer, run_id, alias)
    counts = explorer.held.get(db, ("counts", run_id), lambda: data.run_counts(db, run_id))
    detail = data.cluster(db, run_id, cluster_id, alias, counts)
    lineage = data.lineage(db, run_id, cluster_id)
    other_titles: dict[str, dict] = {}
    for link in lineage:
        if link.other_run_id not in other_titles:
            other_titles[link.other_run_id] = data.titles(db, link.other_run_id, alias)
    history = curation.cluster_history(db, run_id, cluster_id)
    return {
        **{k: v for k, v in detail.as_dict().items() if k != "queries"},
        "central_queries": data.central(db, run_id, cluster_id, CENTRAL),
        "moderation": data.moderation(db, run_id, cluster_id),
        "lineage": [
            {
                **vars(link),
                "other_title": other_titles[link.other_run_id].get(link.other_cluster_id),
            }
            for link in lineage
        ],
        "arrivals": data.arrivals(db, run_id, cluster_id),
        "history": [e.as_dict() for e in history],
        "undoable": curation.edits_in_force(db, run_id),
        "members": data.members(db, run_id, cluster_id).as_dict(),
    }


def query_view(explorer, query_id: int) -> dict:
    view = data.query(explorer.db, query_id)
    view["edits"] = [e.as_dict() for e in view["edits"]]
    return view
