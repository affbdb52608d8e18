"""Turns one LMSYS-Chat-1M row into the fields of a ``Query`` row, or says why it was skipped.

A row is a mapping with ``conversation_id``, ``model``, ``conversation`` (a list of
``{role, content}`` or that list as a JSON string), ``turn``, ``language``,
``openai_moderation`` and ``redacted``. Nothing here raises on bad input: every problem becomes a
``SkipReason`` (the row is skipped and counted) or a note on a kept row — among them a
conversation's own time that is not a plausible time (``read_timestamp``): the row is kept
without it, the reason is counted and recorded in ``extra_metadata.timestamp_set_aside``.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

UNKNOWN_MODEL = "unknown"
USER_ROLES = frozenset({"user", "human"})
KNOWN_ROLES = USER_ROLES | {"assistant", "system", "gpt", "bot", "model", "tool", "function"}


class SkipReason(StrEnum):
    MISSING_CONVERSATION_ID = "missing_conversation_id"
    CONVERSATION_ID_NOT_TEXT = "conversation_id_not_text"
    CONVERSATION_NOT_JSON = "conversation_not_json"
    CONVERSATION_NOT_A_LIST = "conversation_not_a_list"
    NO_USER_MESSAGE = "no_user_message"
    EMPTY_FIRST_USER_MESSAGE = "empty_first_user_message"
    DUPLICATE_IN_SOURCE = "duplicate_conversation_id_in_source"
    ALREADY_STORED = "already_stored"
    INVALID_JSON_LINE = "invalid_json_line"


@dataclass(slots=True)
class ParsedQuery:
    conversation_id: str
    model: str
    query_text: str
    language: str | None
    extra_metadata: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def strip_nul(text: str) -> str:
    """PostgreSQL cannot store NUL characters in text; they carry no meaning, so drop them."""
    return text.replace("\x00", "") if "\x00" in text else text


def _clean_optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = strip_nul(str(value)).strip()
    return text or None


def _decode_conversation(raw: Any) -> list | SkipReason:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return SkipReason.CONVERSATION_NOT_JSON
    if not isinstance(raw, list | tuple):
        return SkipReason.CONVERSATION_NOT_A_LIST
    return list(raw)


def moderation_summary(raw: Any) -> tuple[bool, list[str]] | None:
    """Whether any message was flagged, and the union of flagged categories (not the dump).

    None when the row has no moderation record at all.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, list | tuple):
        return None
    flagged = False
    categories: set[str] = set()
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        flagged = flagged or bool(entry.get("flagged"))
        entry_categories = entry.get("categories")
        if isinstance(entry_categories, Mapping):
            categories.update(name for name, hit in entry_categories.items() if hit)
    return flagged, sorted(categories)


EARLIEST = datetime(2000, 1, 1)  # naive UTC, as stored
LEEWAY = timedelta(days=1)
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
SET_ASIDE = "timestamp_set_aside"  # extra_metadata key: why the source's time was not kept


class TimestampNote(StrEnum):
    """Why a conversation's own time was set aside (the row is kept, counted as a note)."""

    NUMBER = "timestamp_number"  # seconds? milliseconds? a number does not say
    NAN = "timestamp_nan"
    OBJECT = "timestamp_object"  # a mapping, a list, a bool: not a time
    UNREADABLE = "timestamp_unreadable"  # text that is not an ISO date or time
    OUT_OF_RANGE = "timestamp_out_of_range"  # before EARLIEST or after now + LEEWAY


def latest_plausible() -> datetime:
    """The latest plausible arrival time (naive UTC): now plus a day, for clocks and time
    zones that are off; anything later has not happened yet."""
    return datetime.now(UTC).replace(tzinfo=None) + LEEWAY


def read_timestamp(value: Any, latest: datetime | None = None) -> tuple[str | None, str | None]:
    """A conversation's own time as naive UTC ISO text (``2023-04-09T00:02:53``) from a datetime
    (naive = UTC), a date or ISO text, and None; or None and the ``TimestampNote`` saying why
    it was set aside. A missing value (None, blank text) is neither."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, TimestampNote.UNREADABLE.value
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    elif isinstance(value, float) and math.isnan(value):
        return None, TimestampNote.NAN.value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return None, TimestampNote.NUMBER.value
    if not isinstance(value, datetime):
        return None, TimestampNote.OBJECT.value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if not EARLIEST <= value <= (latest or latest_plausible()):
        return None, TimestampNote.OUT_OF_RANGE.value
    return value.strftime(TIMESTAMP_FORMAT), None


def parse_row(row: Mapping[str, Any]) -> ParsedQuery | SkipReason:
    raw_id = row.get("conversation_id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        return SkipReason.CONVERSATION_ID_NOT_TEXT  # a dict or list would be stored as its repr
    conversation_id = _clean_optional_text(raw_id)
    if conversation_id is None:
        return SkipReason.MISSING_CONVERSATION_ID

    conversation = _decode_conversation(row.get("conversation"))
    if isinstance(conversation, SkipReason):
        return conversation

    notes: list[str] = []
    first_user: Any = None
    user_turns = 0
    for message in conversation:
        if not isinstance(message, Mapping):
            notes.append("malformed_message")
            continue
        role = str(message.get("role") or "").strip().lower()
        if role in USER_ROLES:
            user_turns += 1
            if first_user is None:
                first_user = message.get("content")
        elif role not in KNOWN_ROLES:
            notes.append("unknown_role")
    if user_turns == 0:
        return SkipReason.NO_USER_MESSAGE

    query_text = strip_nul(first_user).strip() if isinstance(first_user, str) else ""
    if not query_text:
        return SkipReason.EMPTY_FIRST_USER_MESSAGE
    if isinstance(first_user, str) and "\x00" in first_user:
        notes.append("nul_removed")

    turn = row.get("turn")
    redacted = row.get("redacted")
    moderation = moderation_summary(row.get("openai_moderation"))
    extra: dict[str, Any] = {
        "num_user_turns": user_turns,
        "turn": turn if isinstance(turn, int) and not isinstance(turn, bool) else None,
        "redacted": redacted if isinstance(redacted, bool) else None,
        "moderation_flagged": moderation[0] if moderation else None,
        "moderation_categories": moderation[1] if moderation else None,
    }
    if "timestamp" in row:
        extra["timestamp"], set_aside = read_timestamp(row["timestamp"])
        if set_aside:
            extra[SET_ASIDE] = set_aside
            notes.append(set_aside)

    return ParsedQuery(
        conversation_id=conversation_id,
        model=_clean_optional_text(row.get("model")) or UNKNOWN_MODEL,
        query_text=query_text,
        language=_clean_optional_text(row.get("language")),
        extra_metadata=extra,
        notes=sorted(set(notes)),
    )
