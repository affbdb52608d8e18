"""Reading the audit trail back, and undoing an edit from it.

``undo`` restores exactly the state an edit's ``old_value`` recorded. It takes back only the
latest edit of a run that is still in force: a later edit may have built on it (moved the same
queries again, renamed the merged cluster), so those are undone first, newest first.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from lmsys_pipeline.curation.edits import EditError, write_audit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import recount
from lmsys_pipeline.db.curation import ClusterEdit, ClusterMetadata
from lmsys_pipeline.db.models import ClusterSummary, QueryCluster


@dataclass(frozen=True)
class EditRow:
    id: int
    run_id: str
    cluster_id: int | None
    edit_type: str
    editor: str
    timestamp: datetime
    old_value: dict | None
    new_value: dict | None
    reason: str | None
    undone_by: int | None

    def as_dict(self) -> dict:
        return asdict(self) | {"timestamp": self.timestamp.isoformat()}

    def touches_query(self, query_id: int) -> bool:
        old = (self.old_value or {}).get("assignments") or []
        return any(row[0] == query_id for row in old)

    def touches_cluster(self, cluster_id: int) -> bool:
        new = self.new_value or {}
        merged = [*(new.get("merged") or []), *(new.get("new_clusters") or [])]
        return (
            self.cluster_id == cluster_id
            or cluster_id in merged
            or any(row[1] == cluster_id for row in (self.old_value or {}).get("assignments") or [])
        )


def audit(
    db: DatabaseManager,
    run_id: str,
    *,
    edit_type: str | None = None,
    editor: str | None = None,
    since: datetime | None = None,
) -> list[EditRow]:
    """The run's edits, oldest first, filtered by type, editor and time."""
    statement = select(ClusterEdit.__table__).where(ClusterEdit.run_id == run_id)
    if edit_type is not None:
        statement = statement.where(ClusterEdit.edit_type == edit_type)
    if editor is not None:
        statement = statement.where(ClusterEdit.editor == editor)
    if since is not None:
        statement = statement.where(ClusterEdit.timestamp >= since)
    with db.engine.connect() as connection:
        rows = connection.execute(statement.order_by(ClusterEdit.id)).mappings().all()
    return [EditRow(**row) for row in rows]


def history(
    db: DatabaseManager, run_id: str, *, cluster_id: int | None = None, query_id: int | None = None
) -> list[EditRow]:
    """Edits of one cluster (including merges into or out of it) or of one query."""
    edits = audit(db, run_id)
    if query_id is not None:
        return [e for e in edits if e.touches_query(query_id)]
    if cluster_id is not None:
        return [e for e in edits if e.touches_cluster(cluster_id)]
    return edits


def undo(
    db: DatabaseManager, edit_id: int, *, editor: str | None = None, reason: str | None = None
) -> int:
    """Puts back what edit ``edit_id`` changed; returns the id of the ``undo`` audit row."""
    with db.engine.begin() as connection:
        edit = connection.execute(
            select(ClusterEdit.__table__).where(ClusterEdit.id == edit_id)
        ).first()
        if edit is None:
            raise EditError(f"Edit {edit_id} does not exist: lmsys edit audit RUN lists them.")
        if edit.edit_type == "undo":
            raise EditError(f"Edit {edit_id} is an undo; undo is not undone.")
        if edit.undone_by is not None:
            raise EditError(f"Edit {edit_id} was already undone by edit {edit.undone_by}.")
        later = (
            connection.execute(
                select(ClusterEdit.id).where(
                    ClusterEdit.run_id == edit.run_id,
                    ClusterEdit.id > edit_id,
                    ClusterEdit.edit_type != "undo",
                    ClusterEdit.undone_by.is_(None),
                )
            )
            .scalars()
            .all()
        )
        if later:
            raise EditError(
                f"Edit {edit_id} has later edits of {edit.run_id} in force: undo edit "
                f"{max(later)} first."
            )
        _restore(connection, edit)
        undo_id = write_audit(
            connection, edit.run_id, edit.cluster_id, "undo",
            old=None, new={"undid": edit_id, "edit_type": edit.edit_type},
            editor=editor, reason=reason,
        )  # fmt: skip
        connection.execute(
            update(ClusterEdit).where(ClusterEdit.id == edit_id).values(undone_by=undo_id)
        )
        return undo_id


def _restore(connection: Connection, edit) -> None:
    old = edit.old_value or {}
    if edit.edit_type == "rename":
        connection.execute(
            update(ClusterSummary)
            .where(
                ClusterSummary.summary_run_id == old["summary_run_id"],
                ClusterSummary.cluster_id == edit.cluster_id,
            )
            .values(title=old["title"], description=old["description"])
        )
    elif edit.edit_type in ("move_query", "merge", "split", "delete"):
        touched = {edit.cluster_id, (edit.new_value or {}).get("moved_to", edit.cluster_id)}
        for query_id, cluster_id, confidence in old["assignments"]:
            connection.execute(
                update(QueryCluster)
                .where(QueryCluster.run_id == edit.run_id, QueryCluster.query_id == query_id)
                .values(cluster_id=cluster_id, confidence_score=confidence)
            )
            touched.add(cluster_id)
        for row in old.get("summaries") or []:
            restored = row | {"generated_at": datetime.fromisoformat(row["generated_at"])}
            connection.execute(insert(ClusterSummary).values(restored))
        recount(connection, edit.run_id, touched)
    else:  # tag, flag, quality, notes: the annotations as they were
        where = (
            ClusterMetadata.run_id == edit.run_id,
            ClusterMetadata.cluster_id == edit.cluster_id,
        )
        connection.execute(delete(ClusterMetadata).where(*where))
        if old.get("metadata"):
            row = old["metadata"]
            row = row | {"last_edited": datetime.fromisoformat(row["last_edited"])}
            connection.execute(insert(ClusterMetadata).values(row))


def audit_row(db: DatabaseManager, edit_id: int) -> EditRow:
    with db.engine.connect() as connection:
        row = (
            connection.execute(select(ClusterEdit.__table__).where(ClusterEdit.id == edit_id))
            .mappings()
            .first()
        )
    if row is None:
        raise EditError(f"Edit {edit_id} does not exist: lmsys edit audit RUN lists them.")
    return EditRow(**row)
