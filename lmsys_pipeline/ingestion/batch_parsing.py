"""Parses a whole batch into a frame of ``queries`` rows, plus skip and note counts.

LMSYS parquet stores ``conversation`` as ``list<struct<content, role>>`` and a moderation
record with 11 categories and scores per message; turning all that into Python objects costs
several times more than the insert itself. So typed Arrow batches are parsed column-wise with
polars, including the JSON of ``extra_metadata``. Any other batch (JSON rows, string-encoded
conversations, odd moderation records) goes row by row through ``parse_row``. Both paths give
the same rows for the same input; the tests hold them to that.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from lmsys_pipeline.ingestion.parsing import (
    EARLIEST,
    KNOWN_ROLES,
    SET_ASIDE,
    TIMESTAMP_FORMAT,
    UNKNOWN_MODEL,
    USER_ROLES,
    SkipReason,
    TimestampNote,
    latest_plausible,
    parse_row,
    read_timestamp,
)

ROW_SCHEMA = {
    "conversation_id": pl.String,
    "model": pl.String,
    "query_text": pl.String,
    "language": pl.String,
    "extra_metadata": pl.String,
}


@dataclass
class ParsedBatch:
    """Valid rows (``ROW_SCHEMA`` columns, ``extra_metadata`` as JSON text) and what was not."""

    rows: pl.DataFrame
    skipped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)


def _is_message_list(dtype: pa.DataType) -> bool:
    if not (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)):
        return False
    item = dtype.value_type
    if not pa.types.is_struct(item):
        return False
    names = {item.field(i).name for i in range(item.num_fields)}
    if not {"role", "content"} <= names:
        return False
    content_type = item.field("content").type
    return pa.types.is_string(content_type) or pa.types.is_large_string(content_type)


def _moderation_categories(dtype: pl.DataType) -> list[str] | None:
    """Category names if the moderation column is the typed LMSYS record, else None."""
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
        return None
    fields = {item.name: item.dtype for item in dtype.inner.fields}
    if fields.get("flagged") != pl.Boolean:
        return None
    categories = fields.get("categories")
    if categories is None:
        return []
    if not isinstance(categories, pl.Struct):
        return None
    return [item.name for item in categories.fields if item.dtype == pl.Boolean]


def _clean_text(expression: pl.Expr) -> pl.Expr:
    cleaned = expression.cast(pl.String).str.replace_all("\x00", "", literal=True)
    cleaned = cleaned.str.strip_chars()
    return pl.when(cleaned.str.len_bytes() > 0).then(cleaned).otherwise(None)


def _moderation_columns(frame: pl.DataFrame, categories: list[str]) -> list[pl.Series]:
    """``moderation_flagged`` and ``moderation_categories``; categories only for flagged rows.

    Naming the flagged categories costs a list scan per category, so it runs on the few flagged
    rows (about 3% in LMSYS) and is scattered back; other rows with a record get ``[]``.
    """
    moderation = pl.col("openai_moderation")
    flagged = frame.select(
        moderation.list.eval(pl.element().struct.field("flagged").fill_null(False))
        .list.any()
        .alias("moderation_flagged")
    ).to_series()
    empty = pl.lit([], dtype=pl.List(pl.String))
    names = pl.when(moderation.is_not_null()).then(empty).alias("moderation_categories")
    flagged_rows = flagged.fill_null(False).arg_true()
    if not categories or not flagged_rows.len():
        return [flagged, frame.select(names).to_series()]
    hits = [
        pl.when(
            moderation.list.eval(
                pl.element().struct.field("categories").struct.field(name).fill_null(False)
            ).list.any()
        ).then(pl.lit(name))
        for name in sorted(categories)
    ]
    indexed = frame.select(moderation).with_row_index("row")
    flagged_names = indexed[flagged_rows].select(
        "row", pl.concat_list(hits).list.drop_nulls().alias("flagged_names")
    )
    names = (
        indexed.join(flagged_names, on="row", how="left", maintain_order="left")
        .select(pl.coalesce("flagged_names", names).alias("moderation_categories"))
        .to_series()
    )
    return [flagged, names]


def _columnar(batch: pa.RecordBatch) -> ParsedBatch:
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    names = set(frame.columns)
    message = pl.element()
    role = message.struct.field("role").cast(pl.String).fill_null("").str.strip_chars()
    role = role.str.to_lowercase()
    conversation = pl.col("conversation")
    first_user = conversation.list.eval(
        message.filter(role.is_in(list(USER_ROLES))).struct.field("content")
    ).list.first()

    def optional(name: str, expression: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return expression if name in names else pl.lit(None, dtype=dtype)

    categories = (
        _moderation_categories(frame.schema["openai_moderation"])
        if "openai_moderation" in names
        else []
    )
    if categories is None:
        return _row_by_row(batch.to_pylist())
    if "openai_moderation" in names:
        moderation_columns = _moderation_columns(frame, categories)
    else:
        moderation_columns = [
            pl.Series("moderation_flagged", [None] * frame.height, dtype=pl.Boolean),
            pl.Series("moderation_categories", [None] * frame.height, dtype=pl.List(pl.String)),
        ]
    turn = optional("turn", pl.col("turn"), pl.Int64)
    if "turn" in names and not frame.schema["turn"].is_integer():
        turn = pl.lit(None, dtype=pl.Int64)
    redacted = optional("redacted", pl.col("redacted"), pl.Boolean)
    if "redacted" in names and frame.schema["redacted"] != pl.Boolean:
        redacted = pl.lit(None, dtype=pl.Boolean)

    parsed = frame.select(
        _clean_text(pl.col("conversation_id")).alias("conversation_id"),
        first_user.alias("raw_query"),
        _clean_text(first_user).alias("query_text"),
        conversation.list.eval(role.is_in(list(USER_ROLES))).list.sum().alias("user_turns"),
        conversation.list.eval(message.is_not_null() & ~role.is_in(list(KNOWN_ROLES)))
        .list.any()
        .alias("unknown_role"),
        conversation.list.eval(message.is_null()).list.any().alias("malformed_message"),
        optional("model", _clean_text(pl.col("model")), pl.String)
        .fill_null(UNKNOWN_MODEL)
        .alias("model"),
        optional("language", _clean_text(pl.col("language")), pl.String).alias("language"),
        turn.alias("turn"),
        redacted.alias("redacted"),
        _timestamp(frame).alias("timestamp_read"),
    ).with_columns(
        *moderation_columns,
        pl.col("timestamp_read").struct.field("text").alias("timestamp"),
        pl.col("timestamp_read").struct.field("note").alias("timestamp_note"),
    )
    reason = (
        pl.when(pl.col("conversation_id").is_null())
        .then(pl.lit(SkipReason.MISSING_CONVERSATION_ID.value))
        .when(pl.col("user_turns").is_null())
        .then(pl.lit(SkipReason.CONVERSATION_NOT_A_LIST.value))
        .when(pl.col("user_turns") == 0)
        .then(pl.lit(SkipReason.NO_USER_MESSAGE.value))
        .when(pl.col("query_text").is_null())
        .then(pl.lit(SkipReason.EMPTY_FIRST_USER_MESSAGE.value))
    )
    parsed = parsed.with_columns(reason.alias("skip_reason"))
    skipped = Counter(
        {
            SkipReason(key): count
            for key, count in parsed.get_column("skip_reason")
            .drop_nulls()
            .value_counts()
            .iter_rows()
        }
    )
    valid = parsed.filter(pl.col("skip_reason").is_null())
    notes = valid.select(
        pl.col("unknown_role").sum(),
        pl.col("malformed_message").sum(),
        pl.col("raw_query").str.contains("\x00", literal=True).sum().alias("nul_removed"),
    ).row(0, named=True)
    notes |= dict(valid.get_column("timestamp_note").drop_nulls().value_counts().iter_rows())
    fields = [
        pl.col("user_turns").cast(pl.Int64).alias("num_user_turns"),
        *("turn", "redacted", "moderation_flagged", "moderation_categories"),
    ]
    metadata = pl.struct(fields).struct.json_encode()
    if "timestamp" in names:
        metadata = pl.struct(*fields, "timestamp").struct.json_encode()
        set_aside = pl.col("timestamp_note").alias(SET_ASIDE)
        metadata = (
            pl.when(pl.col("timestamp_note").is_null())
            .then(metadata)
            .otherwise(pl.struct(*fields, "timestamp", set_aside).struct.json_encode())
        )
    rows = valid.select(
        "conversation_id", "model", "query_text", "language", metadata.alias("extra_metadata")
    )
    return ParsedBatch(rows, skipped, Counter({k: v for k, v in notes.items() if v}))


TIMESTAMP_READ = pl.Struct({"text": pl.String, "note": pl.String})


def _timestamp(frame: pl.DataFrame) -> pl.Expr:
    """The conversation's own time as ``read_timestamp`` gives it: a struct of its naive UTC
    text and the note when it was set aside (both null without the column)."""
    if "timestamp" not in frame.columns:
        return pl.lit(None, dtype=TIMESTAMP_READ)
    dtype, column = frame.schema["timestamp"], pl.col("timestamp")
    latest = latest_plausible()
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        plausible = column.is_between(pl.lit(EARLIEST), pl.lit(latest))
        return pl.struct(
            pl.when(plausible).then(column.dt.strftime(TIMESTAMP_FORMAT)).alias("text"),
            pl.when(column.is_not_null() & ~plausible)
            .then(pl.lit(TimestampNote.OUT_OF_RANGE.value))
            .alias("note"),
        )

    def read(value: Any) -> dict[str, str | None]:
        text, note = read_timestamp(value, latest)
        return {"text": text, "note": note}

    return column.map_elements(read, return_dtype=TIMESTAMP_READ, skip_nulls=True)


def _row_by_row(rows: list[dict[str, Any]]) -> ParsedBatch:
    skipped: Counter = Counter()
    notes: Counter = Counter()
    records: list[tuple] = []
    for row in rows:
        invalid = row.get("_invalid")
        parsed = SkipReason(invalid) if invalid else parse_row(row)
        if isinstance(parsed, SkipReason):
            skipped[parsed] += 1
            continue
        notes.update(parsed.notes)
        records.append(
            (
                parsed.conversation_id,
                parsed.model,
                parsed.query_text,
                parsed.language,
                json.dumps(parsed.extra_metadata, ensure_ascii=False, separators=(",", ":")),
            )
        )
    frame = pl.DataFrame(records, schema=ROW_SCHEMA, orient="row")
    return ParsedBatch(frame, skipped, notes)


def _is_id_type(arrow_type: pa.DataType) -> bool:
    """Ids the columnar path can take as text; anything else (a struct, a list) goes row by row
    and is skipped there as ``conversation_id_not_text``."""
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_null(arrow_type)
    )


def parse_batch(batch: pa.RecordBatch | list[dict[str, Any]]) -> ParsedBatch:
    if isinstance(batch, pa.RecordBatch):
        names = batch.schema.names
        if (
            "conversation" in names
            and _is_message_list(batch.schema.field("conversation").type)
            and "conversation_id" in names
            and _is_id_type(batch.schema.field("conversation_id").type)
        ):
            return _columnar(batch)
        batch = batch.to_pylist()
    return _row_by_row(batch)
