"""One row per query of a run, with its cluster's title and description (and, with a
hierarchy, the titles of its cluster's ancestors: one column per level), streamed to a file.

Rows come from the database in chunks and go to the file chunk by chunk, so exporting a
million queries never holds them all in memory. The summary run is chosen once and joined on
(run, cluster, summary_run_id), which the unique index makes one row at most: a query is never
repeated however many summary runs exist.
"""

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, literal, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.outputs.output_file import replacing
from lmsys_pipeline.progress import OnProgress, Progress, Stopwatch, no_progress
from lmsys_pipeline.reading.choice import SummaryChoice

FORMATS = ("csv", "json", "parquet")
COLUMNS = (
    "query_id",
    "conversation_id",
    "cluster_id",
    "confidence",
    "query_text",
    "model",
    "language",
    "cluster_title",
    "cluster_description",
)
# what analysts said of the cluster: tags and flags comma-separated, quality, coherence, notes
MARK_COLUMNS = (
    "cluster_tags",
    "cluster_flags",
    "cluster_quality",
    "cluster_coherence",
    "cluster_notes",
)
CHUNK = 10_000


def _rows(
    db: DatabaseManager, run_id: str, choice: SummaryChoice | None
) -> Iterator[Sequence[Sequence[Any]]]:
    summary_run_id = choice.summary_run_id if choice else None
    joined = and_(
        ClusterSummary.run_id == QueryCluster.run_id,
        ClusterSummary.cluster_id == QueryCluster.cluster_id,
        ClusterSummary.summary_run_id == (summary_run_id or literal(None)),
    )
    statement = (
        select(
            Query.id,
            Query.conversation_id,
            QueryCluster.cluster_id,
            QueryCluster.confidence_score,
            Query.query_text,
            Query.model,
            Query.language,
            ClusterSummary.title,
            ClusterSummary.description,
        )
        .select_from(QueryCluster)
        .join(Query, Query.id == QueryCluster.query_id)
        .join(ClusterSummary, joined, isouter=True)
        .where(QueryCluster.run_id == run_id)
        .order_by(QueryCluster.query_id)
    )
    with db.engine.connect() as connection:
        result = connection.execution_options(yield_per=CHUNK).execute(statement)
        yield from result.partitions()


def _csv(path: Path, columns: list[str], chunks) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for chunk in chunks:
            writer.writerows(chunk)
            written += len(chunk)
    return written


def _json(path: Path, columns: list[str], chunks) -> int:
    """A JSON array with one object per line, written as it streams."""
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for chunk in chunks:
            for row in chunk:
                handle.write(",\n" if written else "\n")
                handle.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
                written += 1
        handle.write("\n]\n")
    return written


def _parquet(path: Path, columns: list[str], chunks) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "query_id": pa.int64(),
        "cluster_id": pa.int64(),
        "confidence": pa.float64(),
        "cluster_coherence": pa.int64(),
    }
    schema = pa.schema([(name, types.get(name, pa.string())) for name in columns])
    written = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in chunks:
            values = list(zip(*chunk, strict=True))
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        pa.array(column, type=f.type)
                        for column, f in zip(values, schema, strict=True)
                    ],
                    schema=schema,
                )
            )
            written += len(chunk)
    return written


WRITERS = {"csv": _csv, "json": _json, "parquet": _parquet}


def _counted(chunks, on_progress: OnProgress) -> Iterator[Sequence[Sequence[Any]]]:
    """The chunks as they are, telling ``on_progress`` the rows written after each."""
    watch, written = Stopwatch(), 0
    for chunk in chunks:
        yield chunk
        written += len(chunk)
        on_progress(Progress("export", written, None, "rows", watch.seconds))


def level_columns(levels: int) -> list[str]:
    return [f"level_{level}_title" for level in range(1, levels + 1)]


def _marks(annotation) -> tuple:
    """``MARK_COLUMNS`` of a cluster: tags and flags comma-separated, then the rating."""
    a = annotation
    return (", ".join(a.tags), ", ".join(a.flags), a.quality, a.coherence, a.notes)


def export_run(
    db: DatabaseManager,
    run_id: str,
    choice: SummaryChoice | None,
    fmt: str,
    path: Path,
    ancestors: dict[int, list[str | None]] | None = None,
    on_progress: OnProgress = no_progress,
) -> int:
    """Writes the run's queries to ``path``; returns how many rows were written.
    ``ancestors`` (cluster → ancestor titles at levels 1..top, from a hierarchy run) adds one
    column per level. The file appears whole or not at all (``output_file.replacing``)."""
    if fmt not in WRITERS:
        raise ValueError(f"Format {fmt!r} is not one of {', '.join(FORMATS)}.")
    from lmsys_pipeline.reading.clusters import Annotation, annotations

    levels = max((len(titles) for titles in (ancestors or {}).values()), default=0)
    columns = [*COLUMNS, *MARK_COLUMNS, *level_columns(levels)]
    marks = {c: _marks(a) for c, a in annotations(db, run_id).items()}
    unmarked = _marks(Annotation())
    above = [None] * levels
    chunks = (
        [
            (*row, *marks.get(row[2], unmarked), *(ancestors or {}).get(row[2], above))
            for row in chunk
        ]
        for chunk in _rows(db, run_id, choice)
    )
    with replacing(path) as new:
        return WRITERS[fmt](new, columns, _counted(chunks, on_progress))
