"""Curation from the pages: each edit, undo and audit read is the function ``lmsys edit``
calls (one path per operation), with the editor's name in the audit row."""

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.reading.choice import require_run


def cluster_history(db: DatabaseManager, run_id: str, cluster_id: int) -> list:
    """``lmsys edit history RUN --cluster-id C``."""
    from lmsys_pipeline.curation.history import history

    return history(db, run_id, cluster_id=cluster_id)


def run_audit(db: DatabaseManager, run_id: str) -> list:
    """``lmsys edit audit RUN``."""
    from lmsys_pipeline.curation.history import audit

    require_run(db, run_id)
    return audit(db, run_id)


def edits_in_force(db: DatabaseManager, run_id: str) -> int | None:
    """The run's latest edit that ``undo`` would take back now (None: none)."""
    latest = [e for e in run_audit(db, run_id) if e.edit_type != "undo" and e.undone_by is None]
    return latest[-1].id if latest else None


def default_editor() -> str:
    from lmsys_pipeline.curation.edits import default_editor as os_user

    return os_user()


def edit(db: DatabaseManager, kind: str, run_id: str, cluster_id: int, fields: dict) -> int:
    """One ``lmsys edit`` command; returns the audit row's id. ``fields`` hold the command's
    options (editor and reason included)."""
    from lmsys_pipeline.curation import annotations, edits, reshape

    who = {"editor": fields.get("editor"), "reason": fields.get("reason")}
    if kind == "rename":
        return edits.rename_cluster(
            db, run_id, cluster_id, alias=fields["alias"], title=fields.get("title"),
            description=fields.get("description"), **who,
        )  # fmt: skip
    if kind == "move":
        return edits.move_queries(db, run_id, fields["query_ids"], fields["to_cluster"], **who)
    if kind == "merge":
        return edits.merge_clusters(db, run_id, fields["clusters"], cluster_id, **who)
    if kind == "split":
        return reshape.split_cluster(
            db, run_id, cluster_id, query_ids=fields.get("query_ids"),
            parts=fields.get("parts"), **who,
        )  # fmt: skip
    if kind == "delete":
        return reshape.delete_cluster(db, run_id, cluster_id, move_to=fields["move_to"], **who)
    if kind == "tag":
        return annotations.tag_cluster(
            db, run_id, cluster_id, fields.get("tags") or [], remove=fields.get("remove", False),
            quality=fields.get("quality"), coherence=fields.get("coherence"),
            notes=fields.get("notes"), **who,
        )  # fmt: skip
    if kind == "flag":
        return annotations.mark_cluster(
            db, run_id, cluster_id, "flag", fields["flags"], remove=fields.get("remove", False),
            **who,
        )  # fmt: skip
    raise ValueError(f"unknown edit {kind}")


def undo(db: DatabaseManager, edit_id: int, editor: str | None, reason: str | None) -> int:
    """``lmsys edit undo``."""
    from lmsys_pipeline.curation.history import undo as take_back

    return take_back(db, edit_id, editor=editor, reason=reason)


def audit_row(db: DatabaseManager, edit_id: int):
    from lmsys_pipeline.curation.history import audit_row as row

    return row(db, edit_id)


def report_edit(row) -> None:
    """Tells Dagster, as ``lmsys edit`` does: an observation of the run's ``cluster_run``
    partition (a courtesy: a failure is printed, the edit stays)."""
    from lmsys_pipeline.cli.edit import _observe

    _observe(row)
