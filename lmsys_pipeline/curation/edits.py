"""Hand edits of a clustering run, each one transaction with its audit row.

Every edit changes the rows it is about (assignments, summary titles, annotations), recounts
``ClusterSummary.num_queries`` of every cluster it touched in every summary run of the clustering
run, and writes one ``cluster_edits`` row whose ``old_value`` is exactly what ``undo`` needs to
put things back. Bad input (an unknown run, cluster or query, a move to the cluster a query is
already in, a merge of a cluster with itself) raises ``EditError`` before anything is written.
"""

import getpass
from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes, recount
from lmsys_pipeline.db.curation import ClusterEdit
from lmsys_pipeline.db.models import NOISE, ClusterSummary, QueryCluster, utc_now
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.reading.choice import choose_summary_run, require_run


class EditError(UserError, ValueError):
    """An edit that cannot be made, said in one sentence; nothing was changed."""


def default_editor() -> str:
    """The OS user, as the reference tool records it when no editor is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli-user"


def write_audit(
    connection: Connection,
    run_id: str,
    cluster_id: int | None,
    edit_type: str,
    *,
    old: dict | None,
    new: dict | None,
    editor: str | None,
    reason: str | None,
) -> int:
    return connection.execute(
        insert(ClusterEdit)
        .values(
            run_id=run_id,
            cluster_id=cluster_id,
            edit_type=edit_type,
            editor=editor or default_editor(),
            timestamp=utc_now(),
            old_value=old,
            new_value=new,
            reason=reason,
        )
        .returning(ClusterEdit.id)
    ).scalar_one()


def require_cluster(connection: Connection, run_id: str, cluster_id: int) -> int:
    """The cluster's size; an error naming the run's clusters when it has no queries."""
    require_run(connection, run_id)
    sizes = cluster_sizes(connection, run_id)
    if cluster_id not in sizes:
        known = sorted(c for c in sizes if c != NOISE)
        span = f"{known[0]} to {known[-1]}" if known else "none"
        raise EditError(
            f"Cluster {cluster_id} of {run_id} holds no queries (its clusters: {span})."
        )
    return sizes[cluster_id]


def _bounded_label(title: str | None, description: str | None) -> tuple[str | None, str | None]:
    """A hand-written title and description under the summarizer's bounds (``bounds.py``),
    whitespace collapsed; one sentence when either is out of bounds or the title is blank."""
    from lmsys_pipeline.labeling.bounds import (
        MAX_DESCRIPTION_CHARS,
        MAX_TITLE_CHARS,
        bounded_description,
        bounded_title,
    )

    try:
        title = None if title is None else bounded_title(title)
        description = None if description is None else bounded_description(description)
    except ValueError as error:
        raise EditError(
            f"Cannot rename: {error}; give a --title of 1 to {MAX_TITLE_CHARS} characters and "
            f"a --description of at most {MAX_DESCRIPTION_CHARS:,}."
        ) from None
    return title, description


def rename_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    *,
    alias: str,
    title: str | None = None,
    description: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """A new title and/or description for one cluster in the alias's latest summary run."""
    if title is None and description is None:
        raise EditError("Give a new --title, a new --description or both.")
    title, description = _bounded_label(title, description)
    choice = choose_summary_run(db, run_id, alias=alias)
    with db.engine.begin() as connection:
        row = connection.execute(
            select(ClusterSummary.id, ClusterSummary.title, ClusterSummary.description).where(
                ClusterSummary.summary_run_id == choice.summary_run_id,
                ClusterSummary.cluster_id == cluster_id,
            )
        ).first()
        if row is None:
            raise EditError(f"Alias {alias} of {run_id} has no title for cluster {cluster_id}.")
        changes = {
            k: v for k, v in {"title": title, "description": description}.items() if v is not None
        }
        connection.execute(
            update(ClusterSummary).where(ClusterSummary.id == row.id).values(changes)
        )
        scope = {"alias": alias, "summary_run_id": choice.summary_run_id}
        old = scope | {"title": row.title, "description": row.description}
        return write_audit(
            connection, run_id, cluster_id, "rename",
            old=old, new=scope | changes, editor=editor, reason=reason,
        )  # fmt: skip


def move_queries(
    db: DatabaseManager,
    run_id: str,
    query_ids: Sequence[int],
    to_cluster: int,
    *,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Moves queries of the run into ``to_cluster`` (an existing cluster, or -1: noise). Their
    confidence becomes empty: a person placed them, no model measured it."""
    wanted = sorted(set(query_ids))
    if not wanted:
        raise EditError("Give at least one query id to move.")
    with db.engine.begin() as connection:
        if to_cluster != NOISE:
            require_cluster(connection, run_id, to_cluster)
        else:
            require_run(connection, run_id)
        rows = connection.execute(
            select(
                QueryCluster.query_id, QueryCluster.cluster_id, QueryCluster.confidence_score
            ).where(QueryCluster.run_id == run_id, QueryCluster.query_id.in_(wanted))
        ).all()
        found = {query: (cluster, confidence) for query, cluster, confidence in rows}
        missing = [q for q in wanted if q not in found]
        if missing:
            raise EditError(f"Query {missing[0]} has no cluster in {run_id}.")
        already = [q for q in wanted if found[q][0] == to_cluster]
        if already:
            raise EditError(f"Query {already[0]} is already in cluster {to_cluster}.")
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.query_id.in_(wanted))
            .values(cluster_id=to_cluster, confidence_score=None)
        )
        recount(connection, run_id, [to_cluster, *(c for c, _ in found.values())])
        old = {"assignments": [[q, *found[q]] for q in wanted]}
        new = {"cluster_id": to_cluster, "query_ids": wanted}
        return write_audit(
            connection, run_id, to_cluster, "move_query",
            old=old, new=new, editor=editor, reason=reason,
        )  # fmt: skip


def merge_clusters(
    db: DatabaseManager,
    run_id: str,
    sources: Sequence[int],
    into: int,
    *,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Moves every query of ``sources`` into ``into``; the sources' titles (every summary run)
    are removed with them and kept in the audit row, so ``undo`` brings them back."""
    merged = sorted(set(sources))
    if not merged:
        raise EditError("Give at least one cluster to merge.")
    if into in merged:
        raise EditError(f"Cluster {into} cannot be merged with itself.")
    if NOISE in merged or into == NOISE:
        raise EditError("Noise (cluster -1) is not a cluster: move its queries instead.")
    with db.engine.begin() as connection:
        require_cluster(connection, run_id, into)
        for source in merged:
            require_cluster(connection, run_id, source)
        rows = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id, QueryCluster.confidence_score)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_(merged))
            .order_by(QueryCluster.query_id)
        ).all()
        titles = (
            connection.execute(
                select(ClusterSummary.__table__).where(
                    ClusterSummary.run_id == run_id, ClusterSummary.cluster_id.in_(merged)
                )
            )
            .mappings()
            .all()
        )
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_(merged))
            .values(cluster_id=into)
        )
        connection.execute(
            delete(ClusterSummary).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id.in_(merged)
            )
        )
        recount(connection, run_id, [into])
        old = {
            "assignments": [list(row) for row in rows],
            "summaries": [jsonable(row) for row in titles],
        }
        new = {"cluster_id": into, "merged": merged}
        return write_audit(
            connection, run_id, into, "merge", old=old, new=new, editor=editor, reason=reason
        )


def jsonable(row) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}
