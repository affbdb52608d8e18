"""Edits that change a run's set of clusters: split one into parts, delete one.

Both are recorded like ``merge``: ``old_value`` keeps every moved query's cluster and
confidence and the removed titles, so ``undo`` restores the exact previous state.
"""

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, func, select, update

from lmsys_pipeline.curation.edits import EditError, jsonable, require_cluster, write_audit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import recount
from lmsys_pipeline.db.models import NOISE, ClusterSummary, QueryCluster
from lmsys_pipeline.reading.choice import require_run


def split_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    *,
    query_ids: Sequence[int] | None = None,
    parts: int | None = None,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Moves ``query_ids`` of the cluster into one new cluster, or (``parts``) splits the
    cluster into that many by k-means over its members' vectors (seeded by the run's seed).
    New clusters take the ids after the run's largest."""
    if (query_ids is None) == (parts is None):
        raise EditError("Give either the query ids to split off or --parts, not both.")
    if cluster_id == NOISE:
        raise EditError("Noise (cluster -1) is not a cluster: move its queries instead.")
    with db.engine.begin() as connection:
        size = require_cluster(connection, run_id, cluster_id)
        if size < 2:
            raise EditError(f"Cluster {cluster_id} of {run_id} holds one query: nothing to split.")
        rows = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id, QueryCluster.confidence_score)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id)
            .order_by(QueryCluster.query_id)
        ).all()
        members = [row[0] for row in rows]
        first_new = (
            1
            + connection.execute(
                select(func.max(QueryCluster.cluster_id)).where(QueryCluster.run_id == run_id)
            ).scalar_one()
        )
        if query_ids is not None:
            wanted = sorted(set(query_ids))
            outside = [q for q in wanted if q not in set(members)]
            if outside:
                raise EditError(f"Query {outside[0]} is not in cluster {cluster_id} of {run_id}.")
            if not wanted or len(wanted) == len(members):
                raise EditError("Split off some of the cluster's queries, not none or all.")
            labels = {q: first_new for q in wanted}
        else:
            run = require_run(connection, run_id)
            labels = _split_by_vectors(db, run, members, parts, first_new - 1, cluster_id)
        for new_cluster in sorted(set(labels.values())):
            moved = [q for q, c in labels.items() if c == new_cluster]
            connection.execute(
                update(QueryCluster)
                .where(QueryCluster.run_id == run_id, QueryCluster.query_id.in_(moved))
                .values(cluster_id=new_cluster, confidence_score=None)
            )
        recount(connection, run_id, [cluster_id])
        old = {"assignments": [list(row) for row in rows if row[0] in labels]}
        new = {
            "cluster_id": cluster_id,
            "new_clusters": sorted(set(labels.values())),
            "assignments": [[q, c] for q, c in sorted(labels.items())],
        }
        return write_audit(
            connection, run_id, cluster_id, "split", old=old, new=new, editor=editor, reason=reason
        )


def _split_by_vectors(
    db: DatabaseManager, stored: dict, members: list[int], parts: int, last_id: int, keep: int
) -> dict[int, int]:
    """k-means over the members' unit vectors; the part holding the most members keeps the
    cluster's id, the others take new ids after ``last_id``."""
    from sklearn.cluster import KMeans

    from lmsys_pipeline.clustering.registry import parse_stored
    from lmsys_pipeline.embedding.loading import load_vectors
    from lmsys_pipeline.vectors import unit_rows

    if parts < 2 or parts > len(members):
        raise EditError(f"--parts must be between 2 and the cluster's {len(members)} queries.")
    params = parse_stored(stored)
    loaded = load_vectors(db, params.embedding_model, members)
    vectors = unit_rows(loaded.vectors[loaded.rows])
    labels = KMeans(parts, n_init=10, random_state=params.seed).fit_predict(vectors)
    order = np.argsort(-np.bincount(labels, minlength=parts), kind="stable")
    ids = {int(part): (keep if rank == 0 else last_id + rank) for rank, part in enumerate(order)}
    return {
        int(q): ids[int(part)]
        for q, part in zip(loaded.query_ids, labels, strict=True)
        if ids[int(part)] != keep
    }


def delete_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    *,
    move_to: int = NOISE,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Removes a cluster: its queries become noise (-1) or move to ``move_to``; its titles
    (every summary run) go into the audit row."""
    if cluster_id == NOISE:
        raise EditError("Noise (cluster -1) is not a cluster: move its queries instead.")
    if move_to == cluster_id:
        raise EditError(f"Cluster {cluster_id} cannot take its own queries.")
    with db.engine.begin() as connection:
        require_cluster(connection, run_id, cluster_id)
        if move_to != NOISE:
            require_cluster(connection, run_id, move_to)
        rows = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id, QueryCluster.confidence_score)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id)
            .order_by(QueryCluster.query_id)
        ).all()
        titles = (
            connection.execute(
                select(ClusterSummary.__table__).where(
                    ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster_id
                )
            )
            .mappings()
            .all()
        )
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id)
            .values(cluster_id=move_to, confidence_score=None)
        )
        connection.execute(
            delete(ClusterSummary).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster_id
            )
        )
        recount(connection, run_id, [move_to])
        old = {
            "assignments": [list(row) for row in rows],
            "summaries": [jsonable(row) for row in titles],
        }
        new = {"cluster_id": cluster_id, "moved_to": move_to}
        return write_audit(
            connection, run_id, cluster_id, "delete", old=old, new=new, editor=editor, reason=reason
        )
