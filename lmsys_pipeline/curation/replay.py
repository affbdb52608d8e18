"""Rebuilds keep a person's work: the run's edits in force are applied again after a
clustering run is re-materialized (moves, merges, splits, deletions) or after a summary run
replaces an alias's titles (renames). An edit whose target no longer exists is reported, not
applied. Replaying changes rows only; the audit trail stays as it was (``undo`` still works,
since a seeded run rebuilds the same assignments the edit started from); each applied edit
stamps the run's parameters (``edits_replayed_at``), so readers holding the run's pages
(the explorer) see that its rows changed.
"""

from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from lmsys_pipeline.curation.history import EditRow, audit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes, recount
from lmsys_pipeline.db.models import NOISE, ClusteringRun, ClusterSummary, QueryCluster, utc_now

ASSIGNMENT_EDITS = ("move_query", "merge", "split", "delete")
TITLE_EDITS = ("rename",)


@dataclass
class ReplayReport:
    applied: list[int] = field(default_factory=list)
    not_applied: dict[int, str] = field(default_factory=dict)

    def as_metadata(self) -> dict:
        return {
            "edits_replayed": len(self.applied),
            "edits_not_applied": len(self.not_applied),
            "edits_not_applied_why": {str(k): v for k, v in self.not_applied.items()},
        }


def replay_edits(
    db: DatabaseManager, run_id: str, kinds: tuple[str, ...] = ASSIGNMENT_EDITS
) -> ReplayReport:
    report = ReplayReport()
    edits = [e for e in audit(db, run_id) if e.undone_by is None and e.edit_type in kinds]
    for edit in edits:
        with db.engine.begin() as connection:
            why = _apply(connection, edit)
            if why is None:
                _mark_replayed(connection, run_id)
        if why is None:
            report.applied.append(edit.id)
        else:
            report.not_applied[edit.id] = why
    return report


def _mark_replayed(connection, run_id: str) -> None:
    parameters = connection.execute(
        select(ClusteringRun.parameters).where(ClusteringRun.run_id == run_id)
    ).scalar_one()
    connection.execute(
        update(ClusteringRun)
        .where(ClusteringRun.run_id == run_id)
        .values(parameters={**(parameters or {}), "edits_replayed_at": utc_now().isoformat()})
    )


def _apply(connection, edit: EditRow) -> str | None:
    """Applies one edit again; the reason it cannot be, or None."""
    new = edit.new_value or {}
    run_id = edit.run_id
    sizes = cluster_sizes(connection, run_id)

    def missing(*clusters: int) -> str | None:
        gone = [c for c in clusters if c != NOISE and c not in sizes]
        return f"cluster {gone[0]} no longer exists" if gone else None

    def move(pairs: list[tuple[int, int]]) -> None:
        for query_id, cluster_id in pairs:
            connection.execute(
                update(QueryCluster)
                .where(QueryCluster.run_id == run_id, QueryCluster.query_id == query_id)
                .values(cluster_id=cluster_id, confidence_score=None)
            )

    def drop_titles(clusters: list[int]) -> None:
        connection.execute(
            delete(ClusterSummary).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id.in_(clusters)
            )
        )

    if edit.edit_type == "move_query":
        if why := missing(new["cluster_id"]):
            return why
        move([(q, new["cluster_id"]) for q in new["query_ids"]])
    elif edit.edit_type == "split":
        if why := missing(new["cluster_id"]):
            return why
        move([(q, c) for q, c in new["assignments"]])
    elif edit.edit_type == "merge":
        if why := missing(new["cluster_id"], *new["merged"]):
            return why
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_(new["merged"]))
            .values(cluster_id=new["cluster_id"])
        )
        drop_titles(new["merged"])
    elif edit.edit_type == "delete":
        if why := missing(new["cluster_id"], new["moved_to"]):
            return why
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == new["cluster_id"])
            .values(cluster_id=new["moved_to"], confidence_score=None)
        )
        drop_titles([new["cluster_id"]])
    elif edit.edit_type == "rename":
        return _rename_again(connection, edit)
    recount(connection, run_id, set(sizes) | set(cluster_sizes(connection, run_id)))
    return None


def _rename_again(connection, edit: EditRow) -> str | None:
    """The new title on the alias's latest summary run, if it labels the cluster."""
    alias = (edit.new_value or {}).get("alias")
    latest = connection.execute(
        select(ClusterSummary.summary_run_id)
        .where(ClusterSummary.run_id == edit.run_id, ClusterSummary.alias == alias)
        .order_by(ClusterSummary.generated_at.desc())
        .limit(1)
    ).scalar()
    changes = {k: v for k, v in (edit.new_value or {}).items() if k in ("title", "description")}
    done = connection.execute(
        update(ClusterSummary)
        .where(
            ClusterSummary.summary_run_id == latest,
            ClusterSummary.cluster_id == edit.cluster_id,
        )
        .values(changes)
    ).rowcount
    return None if done else f"alias {alias} has no title for cluster {edit.cluster_id}"
