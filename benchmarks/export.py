"""Exporting a 1M-query run: time and peak memory per format, against an in-memory yardstick.

1M LMSYS-layout rows are ingested, assigned to 200 clusters in a registered run (random
assignments written straight to ``query_clusters``: clustering is not what is measured) and
summarised offline, so every exported row carries a title. Each export runs in its own process
so its peak RSS is its own. Yardstick: the same join fetched whole into memory and written with
polars (what a naive export does).

    .venv/bin/python benchmarks/export.py [--rows 1000000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from lmsys_synthetic import write_lmsys_parquet
from measure import in_fresh_process, peak_mb
from sqlalchemy import insert, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, ClusterSummary, Query, QueryCluster
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.outputs.export import export_run
from lmsys_pipeline.reading.choice import choose_summary_run

CLUSTERS = 200
RUN_ID = "kmeans-200-bench"


def build(workdir: Path, rows: int) -> Path:
    parquet = write_lmsys_parquet(workdir / "lmsys.parquet", rows)
    path = workdir / "export.db"
    db = DatabaseManager(path)
    ingest_batches(db, open_source(str(parquet)).batches(10_000))
    with db.engine.begin() as connection:
        ids = np.array(connection.execute(select(Query.id)).scalars().all())
        connection.execute(
            insert(ClusteringRun),
            [{"run_id": RUN_ID, "algorithm": "kmeans", "num_clusters": CLUSTERS, "parameters": {}}],
        )
        labels = np.random.default_rng(0).integers(CLUSTERS, size=len(ids))
        for start in range(0, len(ids), 50_000):
            connection.execute(
                insert(QueryCluster),
                [
                    {
                        "run_id": RUN_ID,
                        "query_id": int(q),
                        "cluster_id": int(c),
                        "confidence_score": 0.5,
                    }
                    for q, c in zip(
                        ids[start : start + 50_000], labels[start : start + 50_000], strict=True
                    )
                ],
            )
        for alias in ("a", "b"):  # two summary runs: the export must not multiply rows
            connection.execute(
                insert(ClusterSummary),
                [
                    {
                        "run_id": RUN_ID,
                        "cluster_id": c,
                        "summary_run_id": f"summary-{alias}",
                        "alias": alias,
                        "title": f"Cluster {c} ({alias})",
                        "description": "Synthetic. Two sentences.",
                        "num_queries": 1,
                    }
                    for c in range(CLUSTERS)
                ],
            )
    db.dispose()
    return path


def _pipeline(path: Path, fmt: str, out: Path) -> tuple[int, float, float]:
    db = DatabaseManager(path)
    started = time.perf_counter()
    written = export_run(db, RUN_ID, choose_summary_run(db, RUN_ID, alias="a"), fmt, out)
    return written, time.perf_counter() - started, peak_mb()


def _yardstick(path: Path, fmt: str, out: Path) -> tuple[int, float, float]:
    import polars as pl

    db = DatabaseManager(path)
    started = time.perf_counter()
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
        .join(
            ClusterSummary,
            (ClusterSummary.run_id == QueryCluster.run_id)
            & (ClusterSummary.cluster_id == QueryCluster.cluster_id)
            & (ClusterSummary.summary_run_id == "summary-a"),
            isouter=True,
        )
        .where(QueryCluster.run_id == RUN_ID)
        .order_by(QueryCluster.query_id)
    )
    with db.engine.connect() as connection:
        rows = connection.execute(statement).all()
    frame = pl.DataFrame(
        rows,
        schema=[
            "query_id",
            "conversation_id",
            "cluster_id",
            "confidence",
            "query_text",
            "model",
            "language",
            "cluster_title",
            "cluster_description",
        ],
        orient="row",
    )
    {"csv": frame.write_csv, "json": frame.write_json, "parquet": frame.write_parquet}[fmt](out)
    return frame.height, time.perf_counter() - started, peak_mb()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        path = build(Path(workdir), args.rows)
        print(
            f"built {args.rows:,} queries with 2 summary runs in "
            f"{time.perf_counter() - started:.0f} s"
        )
        for fmt in ("csv", "json", "parquet"):
            out = Path(workdir) / f"out.{fmt}"
            rows, seconds, rss = in_fresh_process(_pipeline, path, fmt, out)
            size = out.stat().st_size / 1e6
            y_rows, y_seconds, y_rss = in_fresh_process(_yardstick, path, fmt, out)
            print(
                f"{fmt:8s} export_run: {rows:,} rows {seconds:6.1f} s, peak RSS {rss:6.0f} MB, "
                f"{size:,.0f} MB | yardstick in memory: {y_rows:,} rows {y_seconds:6.1f} s, "
                f"peak RSS {y_rss:6.0f} MB"
            )


if __name__ == "__main__":
    main()
