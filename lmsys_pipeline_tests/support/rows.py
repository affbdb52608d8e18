"""LMSYS-layout rows with every kind of bad input, and writers for each file format."""

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

LONG_TEXT = "word " * 20_000  # 100,000 characters
NON_LATIN = "如何学习Python？🐍 Привет, мир! مرحبا"

MODERATION_TYPE = pa.list_(
    pa.struct(
        [
            ("categories", pa.struct([("hate", pa.bool_()), ("violence", pa.bool_())])),
            ("flagged", pa.bool_()),
        ]
    )
)
TYPED_SCHEMA = pa.schema(
    [
        ("conversation_id", pa.string()),
        ("model", pa.string()),
        ("conversation", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
        ("turn", pa.int64()),
        ("language", pa.string()),
        ("openai_moderation", MODERATION_TYPE),
        ("redacted", pa.bool_()),
    ]
)


def _moderation(flags: list[dict[str, bool]]) -> list[dict[str, Any]]:
    return [
        {
            "categories": {"hate": f.get("hate", False), "violence": f.get("violence", False)},
            "flagged": any(f.values()),
        }
        for f in flags
    ]


def message(role: str | None, content: str | None) -> dict[str, Any]:
    return {"content": content, "role": role}


def row(conversation_id: str | None, messages: Any, **extra) -> dict:
    listed = messages if isinstance(messages, list) else []
    base = {
        "conversation_id": conversation_id,
        "model": "vicuna-13b",
        "conversation": messages,
        "turn": sum(1 for m in listed if m and m.get("role") == "user"),
        "language": "English",
        "openai_moderation": _moderation([{} for _ in listed]),
        "redacted": False,
    }
    base.update(extra)
    return base


def typed_rows() -> list[dict[str, Any]]:
    """Rows that a typed LMSYS parquet file can hold: good ones and every typed defect."""
    return [
        row("ok-1", [message("user", "  Hello there  "), message("assistant", "Hi!")]),
        row(None, [message("user", "no id")]),
        row("   ", [message("user", "blank id")]),
        row("no-user", [message("assistant", "only the assistant speaks")]),
        row("empty-first", [message("user", "   "), message("user", "second")]),
        row("nul", [message("user", "abc\x00def")]),
        row("unknown-role", [message("narrator", "aside"), message("user", "real question")]),
        row("dup", [message("user", "first wins")]),
        row("dup", [message("user", "second loses")]),
        row("long", [message("user", LONG_TEXT)]),
        row("non-latin", [message("user", NON_LATIN)]),
        row(
            "flagged",
            [message("user", "something nasty"), message("assistant", "no")],
            openai_moderation=_moderation([{"hate": True, "violence": True}, {}]),
        ),
        row("capital-role", [message(" User ", "role in capitals")], model=None, language=None),
        row(
            "multi-turn",
            [
                message("user", "one"),
                message("assistant", "a"),
                message("user", "two"),
                message("assistant", "b"),
            ],
            turn=2,
            redacted=True,
        ),
        row("empty-list", []),
        row("null-conversation", None),
    ]


EXPECTED_TYPED = {
    "inserted": {
        "ok-1": "Hello there",
        "nul": "abcdef",
        "unknown-role": "real question",
        "dup": "first wins",
        "long": LONG_TEXT.strip(),
        "non-latin": NON_LATIN,
        "flagged": "something nasty",
        "capital-role": "role in capitals",
        "multi-turn": "one",
    },
    "skipped": {
        "missing_conversation_id": 2,
        "no_user_message": 2,
        "empty_first_user_message": 1,
        "duplicate_conversation_id_in_source": 1,
        "conversation_not_a_list": 1,
    },
}


def untyped_rows() -> list[dict[str, Any]]:
    """Defects only JSON can carry: conversations that are strings or not lists at all."""
    return [
        row("json-string", json.dumps([message("user", "encoded as a string")])),
        row("bad-json-string", "[{not json"),
        row("dict-conversation", {"role": "user", "content": "not a list"}),
        row("number-conversation", 42),
        {"conversation_id": "bare", "conversation": [message("user", "only required keys")]},
    ]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=TYPED_SCHEMA), path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]], extra_lines: list[str] = ()) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
