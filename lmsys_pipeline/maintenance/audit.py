"""``lmsys delete`` and the audit trail: an edit keeps the titles it replaced (and, for a
merge or a deleted cluster, the summary rows with their example queries), so a deleted
query's text could outlive it there. Every quote of it is replaced by ``[deleted query]``, and
its distinctive words by ``[deleted]`` in the fields that describe (``LABEL_KEYS`` and the
reason); ids, aliases, types and editors stay, so the audit remains readable and undoable."""

from typing import Any

from sqlalchemy import select, update

from lmsys_pipeline.db.curation import ClusterEdit
from lmsys_pipeline.maintenance.scrub import Scrubber

LABEL_KEYS = frozenset({"title", "description", "summary", "notes", "representative_queries"})


def scrub_audit(connection, scrubber: Scrubber) -> int:
    """Scrubs every edit's old and new values; returns how many edits changed."""
    changed = 0
    rows = connection.execute(
        select(ClusterEdit.id, ClusterEdit.old_value, ClusterEdit.new_value, ClusterEdit.reason)
    ).all()
    for edit_id, old, new, reason in rows:
        values = {
            "old_value": _scrubbed(old, scrubber),
            "new_value": _scrubbed(new, scrubber),
            "reason": _scrubbed(reason, scrubber, label=True),
        }
        if values != {"old_value": old, "new_value": new, "reason": reason}:
            connection.execute(update(ClusterEdit).where(ClusterEdit.id == edit_id).values(values))
            changed += 1
    return changed


def _scrubbed(value: Any, scrubber: Scrubber, label: bool = False) -> Any:
    if isinstance(value, str):
        return scrubber.scrub(value, words=label)
    if isinstance(value, list):
        return [_scrubbed(item, scrubber, label) for item in value]
    if isinstance(value, dict):
        return {
            key: _scrubbed(item, scrubber, label or key in LABEL_KEYS)
            for key, item in value.items()
        }
    return value
