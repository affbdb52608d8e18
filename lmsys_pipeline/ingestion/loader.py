"""Streams a source into the ``queries`` table: idempotent, incremental, batched, counted.

Each batch is parsed (``parse_batch``), de-duplicated against the source so far and against the
table, and inserted in one transaction (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL
guards against a concurrent writer). A run killed half-way keeps every committed batch; the
next run skips those conversation ids and finishes the rest, so nothing is duplicated.
"""

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, select

from lmsys_pipeline.db.bulk import driver_insert
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.ingestion.batch_parsing import ParsedBatch, parse_batch
from lmsys_pipeline.ingestion.parsing import SkipReason, TimestampNote
from lmsys_pipeline.ingestion.sources import Batch, Source, SourceProblem
from lmsys_pipeline.markdown import TOP_N
from lmsys_pipeline.progress import OnProgress, Progress, no_progress

DEFAULT_BATCH_SIZE = 10_000
# SQLite allows 32,766 bound parameters; keep the IN (...) look-up well under it.
LOOKUP_CHUNK = 5_000

QUERIES = Query.__table__
INSERT_COLUMNS = (
    "conversation_id",
    "model",
    "query_text",
    "language",
    "extra_metadata",
    "created_at",
)
# Values arrive already serialised (JSON text, the bound UTC timestamp), so rows go straight
# to the driver's executemany with no per-row processing (db/bulk.py).


@dataclass
class IngestReport:
    """What one ingestion did; every row read is inserted, already stored, or skipped."""

    source: str = ""
    rows_read: int = 0
    inserted: int = 0
    skipped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    models: Counter = field(default_factory=Counter)
    valid_rows: int = 0
    distinct_texts: int = 0
    seconds: float = 0.0
    unreadable: list[SourceProblem] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def timestamps_set_aside(self) -> dict[str, int]:
        """Kept rows whose own time was not plausible, by reason (``TimestampNote``)."""
        reasons = {note.value for note in TimestampNote}
        return {k: v for k, v in sorted(self.notes.items()) if k in reasons and v}

    @property
    def duplicate_text_share(self) -> float:
        """Share of valid rows whose query text repeats an earlier one in this source."""
        if not self.valid_rows:
            return 0.0
        return 1.0 - self.distinct_texts / self.valid_rows

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def progress(self, total: int | None) -> Progress:
        return Progress(
            "load",
            self.rows_read,
            total,
            "rows",
            self.seconds,
            details={"inserted": self.inserted, "skipped": self.skipped_total},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "skipped_total": self.skipped_total,
            "skipped_by_reason": {str(k): v for k, v in sorted(self.skipped.items()) if v},
            "notes": dict(sorted(self.notes.items())),
            "timestamps_set_aside": sum(self.timestamps_set_aside.values()),
            "duplicate_text_share": round(self.duplicate_text_share, 4),
            "top_languages": dict(self.languages.most_common(TOP_N)),
            "top_models": dict(self.models.most_common(TOP_N)),
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second, 1),
            "unreadable": [problem.sentence() for problem in self.unreadable],
        }


def _limited(batches: Iterable[Batch], limit: int | None) -> Iterator[Batch]:
    if limit is None:
        yield from batches
        return
    remaining = limit
    for batch in batches:
        if remaining <= 0:
            return
        if len(batch) > remaining:
            batch = batch.slice(0, remaining) if hasattr(batch, "slice") else batch[:remaining]
        remaining -= len(batch)
        yield batch


_STORED_IDS = select(QUERIES.c.conversation_id).where(
    QUERIES.c.conversation_id.in_(bindparam("ids", expanding=True))
)


def _parsed_ahead(batches: Iterable[Batch]) -> Iterator[tuple[int, ParsedBatch]]:
    """Reads and parses the next batch in a worker thread while the caller inserts this one.

    Arrow, polars and sqlite3 release the GIL in their heavy parts, so on two cores parsing
    and inserting overlap instead of adding up.
    """
    iterator = iter(batches)

    def read_next() -> tuple[int, ParsedBatch] | None:
        batch = next(iterator, None)
        return None if batch is None else (len(batch), parse_batch(batch))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse") as pool:
        pending = pool.submit(read_next)
        while (item := pending.result()) is not None:
            pending = pool.submit(read_next)
            yield item


def _stored_ids(connection: Connection, conversation_ids: list[str]) -> set[str]:
    stored: set[str] = set()
    for start in range(0, len(conversation_ids), LOOKUP_CHUNK):
        chunk = conversation_ids[start : start + LOOKUP_CHUNK]
        stored.update(connection.execute(_STORED_IDS, {"ids": chunk}).scalars())
    return stored


class _Inserter:
    """The compiled insert for one database, fed plain tuples or dicts by executemany."""

    def __init__(self, db: DatabaseManager):
        dialect = db.engine.dialect
        compiled = driver_insert(dialect, "queries", INSERT_COLUMNS, ["conversation_id"])
        self.sql = compiled.sql
        self.positional = compiled.order is not None
        # SQLite and PostgreSQL report how many rows ON CONFLICT DO NOTHING really inserted,
        # so no look-up is needed; elsewhere stored ids are filtered out first.
        self.counts_inserts = compiled.reports_inserted
        self.order = list(compiled.order) if self.positional else None
        processor = QUERIES.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._bind_timestamp = processor or (lambda value: value)

    def insert(self, connection: Connection, rows: pl.DataFrame) -> int:
        """Inserts rows whose conversation id is not stored yet; returns how many it added."""
        if not self.counts_inserts:
            stored = _stored_ids(connection, rows.get_column("conversation_id").to_list())
            if stored:
                rows = rows.filter(~pl.col("conversation_id").is_in(list(stored)))
            if not rows.height:
                return 0
        rows = rows.with_columns(
            pl.lit(self._bind_timestamp(datetime.now(UTC))).alias("created_at")
        )
        if self.positional:
            parameters: list[Any] = rows.select(self.order).rows()
        else:
            parameters = rows.select(INSERT_COLUMNS).rows(named=True)
        result = connection.exec_driver_sql(self.sql, parameters)
        return result.rowcount if self.counts_inserts else rows.height


def ingest_batches(
    db: DatabaseManager,
    batches: Iterable[Batch],
    *,
    limit: int | None = None,
    source_name: str = "",
    on_progress: OnProgress = no_progress,
) -> IngestReport:
    """Parses and inserts row batches; returns counts by outcome. Commits once per batch,
    then tells ``on_progress`` the rows read, inserted and skipped so far."""
    report = IngestReport(source=source_name)
    seen_ids: set[str] = set()
    seen_texts: set[int] = set()
    started = time.perf_counter()
    inserter = _Inserter(db)

    for rows_in_batch, parsed in _parsed_ahead(_limited(batches, limit)):
        report.rows_read += rows_in_batch
        report.skipped.update(parsed.skipped)
        report.notes.update(parsed.notes)
        rows = parsed.rows.unique(subset="conversation_id", keep="first", maintain_order=True)
        ids = rows.get_column("conversation_id").to_list()
        fresh_mask = [conversation_id not in seen_ids for conversation_id in ids]
        report.skipped[SkipReason.DUPLICATE_IN_SOURCE] += (
            parsed.rows.height - rows.height + fresh_mask.count(False)
        )
        rows = rows.filter(pl.Series(fresh_mask, dtype=pl.Boolean))
        seen_ids.update(rows.get_column("conversation_id").to_list())
        report.valid_rows += rows.height
        report.languages.update(
            dict(rows.get_column("language").fill_null("unknown").value_counts().iter_rows())
        )
        report.models.update(dict(rows.get_column("model").value_counts().iter_rows()))
        seen_texts.update(rows.get_column("query_text").hash(seed=0).to_list())

        if rows.height:
            with db.engine.begin() as connection:
                inserted = inserter.insert(connection, rows)
            report.skipped[SkipReason.ALREADY_STORED] += rows.height - inserted
            report.inserted += inserted

        report.distinct_texts = len(seen_texts)
        report.seconds = time.perf_counter() - started
        on_progress(report.progress(limit))

    report.distinct_texts = len(seen_texts)
    report.seconds = time.perf_counter() - started
    return report


UNREADABLE_ROWS = "rows_in_unreadable_row_groups"


def ingest_source(
    db: DatabaseManager,
    source: Source,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    on_progress: OnProgress = no_progress,
) -> IngestReport:
    """``ingest_batches`` over a source, with the parts it could not read in the report (rows
    lost in corrupt parquet row groups are counted as skipped)."""
    report = ingest_batches(
        db,
        source.batches(batch_size),
        limit=limit,
        source_name=source.description,
        on_progress=on_progress,
    )
    report.unreadable = list(source.problems)
    lost = sum(problem.rows_lost or 0 for problem in report.unreadable)
    if lost:
        report.skipped[UNREADABLE_ROWS] += lost
    return report
