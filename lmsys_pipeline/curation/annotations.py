"""What analysts say of a cluster, kept in ``cluster_metadata``: tags, flags and a rating
(quality, coherence, notes) as the reference tool's ``tag-cluster`` / ``flag-cluster`` take
them. Each change is one edit with its audit row; ``undo`` restores the row as it was."""

from collections.abc import Sequence

from sqlalchemy import and_, insert, select, update

from lmsys_pipeline.curation.edits import EditError, jsonable, require_cluster, write_audit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.curation import ClusterMetadata
from lmsys_pipeline.db.models import utc_now

QUALITIES = ("high", "medium", "low")
COHERENCE_SCALE = range(1, 6)  # 1 = incoherent ... 5 = highly coherent


def annotate_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    edit_type: str,
    changes: dict,
    *,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Sets fields of the cluster's ``cluster_metadata`` row (made if missing): ``tag`` and
    ``flag`` edits give the whole new ``tags`` / ``flags`` list, ``quality`` and ``notes``."""
    with db.engine.begin() as connection:
        require_cluster(connection, run_id, cluster_id)
        row = (
            connection.execute(
                select(ClusterMetadata.__table__).where(
                    ClusterMetadata.run_id == run_id, ClusterMetadata.cluster_id == cluster_id
                )
            )
            .mappings()
            .first()
        )
        old = {"metadata": jsonable(row) if row else None}
        values = changes | {"last_edited": utc_now()}
        if row is None:
            connection.execute(
                insert(ClusterMetadata).values(
                    {"run_id": run_id, "cluster_id": cluster_id, "flags": [], "tags": []} | values
                )
            )
        else:
            connection.execute(
                update(ClusterMetadata).where(ClusterMetadata.id == row["id"]).values(values)
            )
        return write_audit(
            connection, run_id, cluster_id, edit_type,
            old=old, new=changes, editor=editor, reason=reason,
        )  # fmt: skip


def _labels_after(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    kind: str,
    labels: Sequence[str],
    remove: bool,
) -> dict:
    """The cluster's whole ``tags`` (``kind`` "tag") or ``flags`` ("flag") list after adding,
    or with ``remove`` taking away, ``labels``."""
    field = {"tag": "tags", "flag": "flags"}[kind]
    given = [label.strip() for label in labels if label.strip()]
    if not given:
        raise EditError(f"Give at least one {kind}.")
    with db.engine.connect() as connection:
        present = connection.execute(
            select(getattr(ClusterMetadata, field)).where(
                and_(ClusterMetadata.run_id == run_id, ClusterMetadata.cluster_id == cluster_id)
            )
        ).scalar()
    present = list(present or [])
    if remove:
        absent = [label for label in given if label not in present]
        if absent:
            raise EditError(f"Cluster {cluster_id} of {run_id} has no {kind} {absent[0]!r}.")
        return {field: [label for label in present if label not in given]}
    return {field: present + [label for label in dict.fromkeys(given) if label not in present]}


def mark_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    kind: str,
    labels: Sequence[str],
    *,
    remove: bool = False,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """Adds (or with ``remove`` takes away) tags (``kind`` "tag") or flags ("flag")."""
    changes = _labels_after(db, run_id, cluster_id, kind, labels, remove)
    return annotate_cluster(db, run_id, cluster_id, kind, changes, editor=editor, reason=reason)


def require_quality(quality: str) -> str:
    if quality not in QUALITIES:
        raise EditError(f"--quality must be high, medium or low, not {quality!r}.")
    return quality


def _rating(quality: str | None, coherence: int | None, notes: str | None) -> dict:
    changes: dict = {}
    if quality is not None:
        changes["quality"] = require_quality(quality)
    if coherence is not None:
        if coherence not in COHERENCE_SCALE:
            raise EditError(
                f"--coherence must be 1 (incoherent) to 5 (highly coherent), not {coherence}."
            )
        changes["coherence_score"] = float(coherence)
    if notes is not None:
        changes["notes"] = notes.strip() or None
    return changes


def tag_cluster(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    tags: Sequence[str] = (),
    *,
    remove: bool = False,
    quality: str | None = None,
    coherence: int | None = None,
    notes: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
) -> int:
    """``lmsys edit tag-cluster``: tags (added, or taken away with ``remove``) and an analyst's
    rating — quality (high, medium or low), coherence (1-5), notes (empty text clears them) —
    in one undoable edit; only what is given changes."""
    changes = _rating(quality, coherence, notes)
    if tags:
        changes |= _labels_after(db, run_id, cluster_id, "tag", tags, remove)
    if not changes:
        raise EditError("Give tags, --quality, --coherence or --notes.")
    if tags:
        kind = "tag"
    else:
        kind = "quality" if changes.keys() & {"quality", "coherence_score"} else "notes"
    return annotate_cluster(db, run_id, cluster_id, kind, changes, editor=editor, reason=reason)
