"""The explorer's reads: every page and ``/api`` route reads through the functions below,
which call the same functions as the ``lmsys`` commands (one path per operation). Search is
in ``warm_search``, edits in ``curation``, links to Dagster in ``dagster_links``.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmsys_pipeline.cli.console import visible
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.store import NotEmbedded
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.explorer import readers
from lmsys_pipeline.reading.choice import NotFound, require_run

__all__ = ["NotEmbedded", "NotFound", "UserError", "require_run", "visible"]

EXPORT_FORMATS = ("csv", "json", "parquet")


def open_database(db_url: str | None) -> DatabaseManager:
    """The database of ``--db-url``, else $LMSYS_DB_URL, else the default SQLite file."""
    from lmsys_pipeline.cli.options import database

    return database(db_url)


# -- runs ---------------------------------------------------------------------------------


def runs(db: DatabaseManager) -> list:
    """``lmsys runs``."""
    from lmsys_pipeline.reading.runs import list_runs

    return list_runs(db)


def run(db: DatabaseManager, run_id: str):
    """One ``lmsys runs`` row; 404 in one sentence for an unknown run."""
    from lmsys_pipeline.reading.runs import list_runs

    require_run(db, run_id)
    return list_runs(db, run_ids=[run_id])[0]


def summary_runs(db: DatabaseManager, run_id: str) -> list:
    from lmsys_pipeline.reading.choice import summary_runs_of

    return summary_runs_of(db, run_id)


def summary_choice(db: DatabaseManager, run_id: str, alias: str | None):
    """The titles ``lmsys list-clusters --alias`` would use (the latest without one)."""
    from lmsys_pipeline.reading.choice import choose_summary_run

    return choose_summary_run(db, run_id, alias=alias)


def default_alias(db: DatabaseManager, run_id: str) -> str | None:
    """The alias a page shows without ``?alias=``: that of the run's latest hierarchy (so the
    tree shows), else None (the run's latest summary run, as the read commands choose)."""
    from lmsys_pipeline.outputs.hierarchy import choose_hierarchy

    found = choose_hierarchy(db, run_id, required=False)
    return found.alias if found else None


def clusters(db: DatabaseManager, run_id: str, choice, *, examples: int = 0) -> list:
    """``lmsys list-clusters``."""
    from lmsys_pipeline.reading.clusters import list_clusters

    return list_clusters(db, run_id, choice, show_examples=examples)


def hierarchy(db: DatabaseManager, run_id: str, choice):
    """(hierarchy choice, tree) as ``list-clusters --level`` and ``export`` find it: the
    latest built on the titles in use; (None, None) when there is none."""
    from lmsys_pipeline.cli.hierarchy import hierarchy_for

    return hierarchy_for(db, run_id, choice, None)


def tree_dict(tree) -> list[dict]:
    """``lmsys show-hierarchy --json``'s roots."""
    from lmsys_pipeline.hierarchy.report import tree_dict as as_dicts

    return as_dicts(tree)


def previous_run(db: DatabaseManager, run_id: str) -> str | None:
    """The run ``cluster_lineage`` compares this one with; None when there is none."""
    from lmsys_pipeline.lineage.runs import previous_run as earlier

    try:
        return earlier(db, run_id)
    except UserError:  # not materialized: no lineage
        return None


# -- clusters -----------------------------------------------------------------------------


def cluster(db: DatabaseManager, run_id: str, cluster_id: int, alias: str | None, counts=None):
    """``lmsys inspect`` (its central queries come from ``central``, with their ids), with
    the run's counts given when the caller holds them (``run_counts``)."""
    from lmsys_pipeline.reading.clusters import cluster_detail

    return cluster_detail(db, run_id, cluster_id, alias=alias, show_queries=0, counts=counts)


def run_counts(db: DatabaseManager, run_id: str):
    """What every cluster's page needs of its whole run: sizes and facet counts."""
    from lmsys_pipeline.reading.clusters import run_counts as counted

    return counted(db, run_id)


def central(db: DatabaseManager, run_id: str, cluster_id: int, count: int) -> list[dict]:
    """The cluster's most central queries as ``inspect`` picks them, with their ids."""
    from lmsys_pipeline.reading.central import central_query_ids
    from lmsys_pipeline.summarizing.selection import fetch_texts

    ids = central_query_ids(db, run_id, [cluster_id], count).get(cluster_id, [])
    texts = fetch_texts(db, ids)
    return [{"query_id": q, "query_text": texts.get(q, "")} for q in ids]


def members(db: DatabaseManager, run_id: str, cluster_id: int, **filters) -> Any:
    """One page of the cluster's members; 404 for an unknown run or cluster."""
    require_cluster(db, run_id, cluster_id)
    return readers.cluster_members(db, run_id, cluster_id, **filters)


def require_cluster(db: DatabaseManager, run_id: str, cluster_id: int) -> None:
    from lmsys_pipeline.db.counts import cluster_size

    require_run(db, run_id)
    if not cluster_size(db, run_id, cluster_id):
        raise NotFound(f"Cluster {cluster_id} is not in run {run_id}: {run_id}'s page lists them.")


def lineage(db: DatabaseManager, run_id: str, cluster_id: int) -> list:
    return readers.cluster_lineage(db, run_id, cluster_id)


def titles(db: DatabaseManager, run_id: str, alias: str | None = None) -> dict[int, str | None]:
    """Cluster id → title from the alias's latest summary run (the run's latest without one,
    nothing when the run lacks the alias)."""
    from lmsys_pipeline.reading.choice import choose_summary_run
    from lmsys_pipeline.reading.clusters import summaries

    if alias is not None and alias not in {c.alias for c in summary_runs(db, run_id)}:
        alias = None
    choice = choose_summary_run(db, run_id, alias=alias)
    return {c: t for c, (t, _) in summaries(db, choice, run_id).items()}


def moderation(db: DatabaseManager, run_id: str, cluster_id: int) -> dict:
    return readers.moderation_counts(db, run_id, cluster_id)


def arrivals(db: DatabaseManager, run_id: str, cluster_id: int, by: str = "week") -> dict:
    """The cluster's queries per period, as ``lmsys trends`` counts them."""
    from lmsys_pipeline.reading.trends import period_counts, times_table

    periods, counts, set_aside = period_counts(times_table(db, run_id, cluster_id), by)
    return {
        "by": by,
        "periods": periods,
        "counts": counts.get(cluster_id, [0] * len(periods)),
        "set_aside": set_aside,
    }


# -- queries ---------------------------------------------------------------------------------------


def query(db: DatabaseManager, query_id: int) -> dict:
    """``lmsys edit view-query`` and, per run, ``lmsys edit history RUN --query-id Q``."""
    from lmsys_pipeline.curation.history import history
    from lmsys_pipeline.curation.views import query_view
    from lmsys_pipeline.db.models import Query

    with db.get_session() as session:
        if session.get(Query, query_id) is None:
            raise NotFound(f"Query {query_id} does not exist: search finds queries by text.")
    view = query_view(db, query_id)
    view["edits"] = [
        edit
        for run_id in dict.fromkeys(place["run_id"] for place in view["clusters"])
        for edit in history(db, run_id, query_id=query_id)
    ]
    return view


# -- runs compared, trends, export ---------------------------------------------------


def diff(db: DatabaseManager, run_a: str, run_b: str, alias: str | None):
    """``lmsys diff``."""
    from lmsys_pipeline.lineage.report import diff_report

    return diff_report(db, run_a, run_b, alias=alias)


def trends(db: DatabaseManager, run_id: str, alias: str | None, by: str, top: int | None):
    """``lmsys trends``."""
    from lmsys_pipeline.reading.trends import trends as read_trends

    return read_trends(db, run_id, summary_choice(db, run_id, alias), by=by, top=top)


@contextmanager
def exported(db: DatabaseManager, run_id: str, fmt: str, alias: str | None) -> Iterator[Path]:
    """``lmsys export`` into a temporary file (removed afterwards): one row per query with
    its cluster's title and, with a hierarchy, its ancestors' titles."""
    from lmsys_pipeline.outputs.export import export_run
    from lmsys_pipeline.outputs.hierarchy import ancestor_titles

    choice = summary_choice(db, run_id, alias)
    _, tree = hierarchy(db, run_id, choice)
    with tempfile.TemporaryDirectory(prefix="lmsys-export-") as folder:
        path = Path(folder) / f"{run_id}.{fmt}"
        export_run(db, run_id, choice, fmt, path, ancestor_titles(tree) if tree else None)
        yield path
