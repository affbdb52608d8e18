"""Writing 1M assignments to PostgreSQL: COPY (what ``materialize_run`` does there) against
batched multi-row INSERTs (what it did before, and still does on SQLite), same process, same
server, each in its own transaction on an empty table.

    .venv/bin/python benchmarks/assignments_pg.py [--rows 1000000]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import delete, insert

from lmsys_pipeline.clustering.runs import INSERT_CHUNK, write_assignments
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster
from lmsys_pipeline_tests.support.postgres import postgres_server


def batched_inserts(connection, run_id, query_ids, labels, confidence) -> None:
    for start in range(0, len(query_ids), INSERT_CHUNK):
        stop = start + INSERT_CHUNK
        connection.execute(
            insert(QueryCluster),
            [
                {"run_id": run_id, "query_id": q, "cluster_id": c, "confidence_score": s}
                for q, c, s in zip(
                    query_ids[start:stop].tolist(),
                    labels[start:stop].tolist(),
                    confidence[start:stop].tolist(),
                    strict=True,
                )
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    query_ids = np.arange(1, args.rows + 1)
    labels = rng.integers(200, size=args.rows)
    confidence = rng.random(args.rows)
    with postgres_server() as url:
        db = DatabaseManager(url)
        with db.engine.begin() as connection:
            connection.execute(
                insert(Query),
                [
                    {"conversation_id": f"c{i}", "model": "m", "query_text": "q"}
                    for i in query_ids.tolist()
                ],
            )
            connection.execute(insert(ClusteringRun), [{"run_id": "r", "algorithm": "kmeans"}])
        for name, write in (
            ("batched INSERTs (yardstick)", batched_inserts),
            ("COPY (write_assignments)", write_assignments),
        ) * 2:
            with db.engine.begin() as connection:
                connection.execute(delete(QueryCluster))
            started = time.perf_counter()
            with db.engine.begin() as connection:
                write(connection, "r", query_ids, labels, confidence)
            print(f"{name:28s} {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        db.dispose()


if __name__ == "__main__":
    main()
