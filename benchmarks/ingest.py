"""Ingestion throughput: N LMSYS-layout rows from parquet into a fresh SQLite database.

Measures the pipeline's own code path (``open_source`` + ``ingest_batches``, exactly what the
``lmsys_queries`` asset runs) and, in the same process, the yardstick: a plain sqlite3
``executemany`` of the very same final rows into an identical fresh table (same indexes, same
pragmas, same commit size). Prints rows/s, the ratio, and peak RSS of the ingestion phase.

    .venv/bin/python benchmarks/ingest.py --rows 1000000

``--progress``: the pipeline again with the CLI's progress display on and off, alternating
rounds on fresh databases (issue 18).
"""

import argparse
import multiprocessing
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lmsys_synthetic import write_lmsys_parquet
from progress_on import off_and_on

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.ingestion.loader import DEFAULT_BATCH_SIZE, ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.progress import no_progress

COLUMNS = "conversation_id, model, query_text, language, extra_metadata, created_at"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(
    parquet: Path, db_path: Path, batch_size: int, on_progress=no_progress
) -> tuple[float, dict]:
    db = DatabaseManager(db_path)
    started = time.perf_counter()
    report = ingest_batches(
        db, open_source(str(parquet)).batches(batch_size), on_progress=on_progress
    )
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, report.as_dict()


def run_yardstick(source_db: Path, target_db: Path, batch_size: int) -> float:
    DatabaseManager(target_db).dispose()  # the same schema and indexes, empty
    reader = sqlite3.connect(source_db)
    writer = sqlite3.connect(target_db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA synchronous=NORMAL")
    cursor = reader.execute(f"SELECT {COLUMNS} FROM queries ORDER BY id")
    batches = []
    while rows := cursor.fetchmany(batch_size):
        batches.append(rows)
    placeholders = ", ".join("?" * 6)
    started = time.perf_counter()
    for rows in batches:
        writer.executemany(f"INSERT INTO queries ({COLUMNS}) VALUES ({placeholders})", rows)
        writer.commit()
    seconds = time.perf_counter() - started
    writer.close()
    reader.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--progress", action="store_true", help="Also: progress off vs on.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of --progress.")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lmsys-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    parquet = workdir / f"lmsys-{args.rows}.parquet"
    if not parquet.exists():
        started = time.perf_counter()
        # In a child process, so that generating the file does not count in this one's peak RSS.
        child = multiprocessing.get_context("spawn").Process(
            target=write_lmsys_parquet, args=(parquet, args.rows)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"generating {parquet} failed")
        print(
            f"wrote {parquet} ({parquet.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.0f} s"
        )
    rss_before = peak_rss_mb()

    for name in ("pipeline.db", "yardstick.db"):
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"{name}{suffix}").unlink(missing_ok=True)
    pipeline_seconds, report = run_pipeline(parquet, workdir / "pipeline.db", args.batch_size)
    rss_pipeline = peak_rss_mb()
    yardstick_seconds = run_yardstick(
        workdir / "pipeline.db", workdir / "yardstick.db", args.batch_size
    )

    rows = report["rows_read"]
    print(f"rows: {rows:,}  inserted: {report['inserted']:,}  skipped: {report['skipped_total']:,}")
    print(
        f"pipeline  (parquet -> parse -> dedupe -> insert): {pipeline_seconds:6.2f} s  "
        f"{rows / pipeline_seconds:10,.0f} rows/s"
    )
    print(
        f"yardstick (plain sqlite3 executemany, same rows): {yardstick_seconds:6.2f} s  "
        f"{rows / yardstick_seconds:10,.0f} rows/s"
    )
    print(f"ratio pipeline / yardstick: {pipeline_seconds / yardstick_seconds:.2f}x")
    print(
        f"peak RSS during ingestion: {rss_pipeline:,.0f} MB "
        f"(process before ingestion: {rss_before:,.0f} MB)"
    )
    print(f"duplicate text share: {report['duplicate_text_share']:.1%}")
    if args.progress:
        progress_rounds(parquet, workdir, args.batch_size, args.rounds)


def progress_rounds(parquet: Path, workdir: Path, batch_size: int, rounds: int) -> None:
    def run(name: str, on_progress) -> tuple[float, int]:
        seconds, report = run_pipeline(
            parquet, workdir / f"progress-{name}.db", batch_size, on_progress
        )
        return seconds, report["rows_read"]

    print(f"\nprogress off vs on (the CLI's live display), {rounds} rounds, order alternating")
    off_and_on(rounds, "rows", run)


if __name__ == "__main__":
    main()
