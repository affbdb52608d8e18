"""Issue 15 end to end at 1M queries, tables included: ``lmsys diff`` between two 1M-query
runs of k=200, assigning 100k new queries to a 1M run (``new_query_assignments``), and
``lmsys trends`` by week over 1M+ assignments — on SQLite and on PostgreSQL.

The database is built through the pipeline's own code: LMSYS-layout rows (lmsys_synthetic.py)
through ``ingest_batches``, vectors through ``embed_pending`` with a *synthetic* embedder
(unit vectors around 200 centres, seeded by each text's hash: the real model takes ~1.7 h per
1M texts on this CPU and is not what is measured), runs through ``register_run`` +
``materialize_run`` (KMeans k=200, the defaults). Sequence, as a week of the scheduled path:

  1. 1,000,000 rows ingested and embedded; run A registered and materialized;
  2. 100,000 newer rows ingested and embedded; **assignment** measured: ``assign_new_queries``
     (what the ``new_query_assignments`` asset calls) in a fresh process, then the asset
     itself through ``dagster asset materialize`` (Dagster's start-up included);
  3. 100,000 more; run B over all 1.2M; arrival times spread over 26 weeks (one UPDATE);
  4. **diff** measured: ``lmsys diff A B --json`` as a user runs it (a fresh process, imports
     included; wall time and peak RSS from /usr/bin/time);
  5. **trends** measured: ``lmsys trends B --by week --json`` the same way.

Yardsticks, in the same script: for assignment, ``load_vectors`` + the run's assignments +
a bare argmax of new vectors against the centroids (the reads any assignment needs, no
writes); for diff, both runs' assignments read and a numpy contingency count (the least any
Jaccard needs, no vectors); for trends, the same weekly group-by in the database's own SQL.

    flock -x /tmp/lmsys-heavy.lock .venv/bin/python benchmarks/keeping_current.py \
        [--rows 1000000] [--new 100000] [--backends sqlite,postgresql]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import in_fresh_process
from measure import timed_in_fresh_process as stage

ROOT = Path(__file__).resolve().parents[1]
MODEL = "synthetic-minilm-384"
CENTRES = 200
WEEKS = 26


class SyntheticEmbedder:
    """Unit vectors around ``CENTRES`` fixed centres, the same vector for the same text."""

    name = MODEL
    dimension = 384
    backend = "synthetic"
    max_chars = 100_000

    def __init__(self) -> None:
        import numpy as np

        self.centres = np.random.default_rng(0).standard_normal((CENTRES, 384))

    def embed(self, texts: list[str]):
        import numpy as np

        from lmsys_pipeline.embedding.store import text_hash

        out = np.empty((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            rng = np.random.default_rng(int.from_bytes(text_hash(text)[:8], "little"))
            vector = self.centres[rng.integers(CENTRES)] + 0.7 * rng.standard_normal(384)
            out[i] = vector / np.linalg.norm(vector)
        return out


def _load(url: str, parquet: str) -> dict:
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.runner import embed_pending
    from lmsys_pipeline.ingestion.loader import ingest_batches
    from lmsys_pipeline.ingestion.sources import open_source

    db = DatabaseManager(url)
    inserted = ingest_batches(db, open_source(parquet).batches(10_000)).inserted
    embedded = embed_pending(db, SyntheticEmbedder()).queries_covered
    return {"inserted": inserted, "embedded": embedded}


def _cluster(url: str) -> dict:
    from lmsys_pipeline.clustering.registry import build_params
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.db.connection import DatabaseManager

    db = DatabaseManager(url)
    params = build_params("kmeans", {"n_clusters": CENTRES, "embedding_model": MODEL})
    run = register_run(db, params)
    result, _ = materialize_run(db, run.run_id)
    return {"run_id": run.run_id, "queries": len(result.fit.labels)}


def _assign(url: str) -> dict:
    from lmsys_pipeline.clustering.late import assign_new_queries
    from lmsys_pipeline.db.connection import DatabaseManager

    status = assign_new_queries(DatabaseManager(url))
    return {"assigned": status.assigned_now, "novel": status.novel_now, "run": status.run_id}


def _late(url: str, run_id: str) -> dict:
    from lmsys_pipeline.clustering.late import late_status
    from lmsys_pipeline.db.connection import DatabaseManager

    status = late_status(DatabaseManager(url), run_id)
    return {"assigned_after_fit": status.assigned_after_fit, "novel": status.novel}


def _assign_yardstick(url: str, run_id: str) -> dict:
    import numpy as np

    from lmsys_pipeline.clustering.runs import load_run, read_assignments
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.loading import load_vectors
    from lmsys_pipeline.vectors import centroids

    db = DatabaseManager(url)
    run, _ = load_run(db, run_id)
    stored = load_vectors(db, MODEL)
    assigned, labels = read_assignments(db, run_id)
    rows = stored.rows[np.searchsorted(stored.query_ids, assigned)]
    centres = centroids(stored.vectors, labels, rows)
    new = stored.rows[stored.query_ids > run.parameters["max_query_id"]]
    nearest = np.argmax(stored.vectors[new] @ centres.T, axis=1)
    return {"new": len(nearest)}


def _diff_yardstick(url: str, run_a: str, run_b: str) -> dict:
    import numpy as np

    from lmsys_pipeline.clustering.runs import read_assignments
    from lmsys_pipeline.db.connection import DatabaseManager

    db = DatabaseManager(url)
    ids_a, labels_a = read_assignments(db, run_a)
    ids_b, labels_b = read_assignments(db, run_b)
    both, in_a, in_b = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
    pairs = labels_a[in_a] * (int(labels_b.max()) + 1) + labels_b[in_b]
    return {"pairs": len(np.unique(pairs)), "shared": len(both)}


def _spread_times(url: str) -> dict:
    """Arrival times over ``WEEKS`` weeks in id order (ingestion stamped them all today)."""
    from sqlalchemy import func, select, text

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.db.models import Query

    db = DatabaseManager(url)
    with db.engine.begin() as connection:
        last = connection.execute(select(func.max(Query.id))).scalar_one()
        step = WEEKS * 7 * 86400 / last
        if db.engine.dialect.name == "sqlite":
            statement = (
                "UPDATE queries SET created_at = strftime('%Y-%m-%d %H:%M:%f', '2026-05-04', "
                "'+' || CAST(id * :step AS INTEGER) || ' seconds')"
            )
        else:
            statement = (
                "UPDATE queries SET created_at = TIMESTAMPTZ '2026-05-04 00:00:00+00' "
                "+ make_interval(secs => id * :step)"
            )
        connection.execute(text(statement), {"step": step})
    if db.engine.dialect.name != "sqlite":
        # what autovacuum does after a bulk UPDATE: the dead row versions gone, statistics fresh
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE queries"))
    return {"rows": last}


def _trends_phases(url: str, run_id: str) -> dict:
    """Where ``lmsys trends`` spends its time, in process: reading the run's assignments and
    times into Arrow, and DuckDB's group-by."""
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.reading.trends import period_counts, times_table

    db = DatabaseManager(url)
    started = time.perf_counter()
    table = times_table(db, run_id)
    read = time.perf_counter() - started
    period_counts(table, "week")
    return {"read_s": round(read, 2), "group_by_s": round(time.perf_counter() - started - read, 2)}


def _trends_yardstick(url: str, run_id: str) -> dict:
    from sqlalchemy import text

    from lmsys_pipeline.db.connection import DatabaseManager

    db = DatabaseManager(url)
    week = (
        "date(q.created_at, 'weekday 0', '-6 days')"
        if db.engine.dialect.name == "sqlite"
        else "date_trunc('week', q.created_at AT TIME ZONE 'UTC')"
    )
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT qc.cluster_id, {week} AS period, count(*) FROM query_clusters qc "
                "JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = :run "
                "GROUP BY qc.cluster_id, period"
            ),
            {"run": run_id},
        ).all()
    return {"groups": len(rows)}


def command(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """A command as a user runs it: wall seconds, peak RSS (MB) and stdout."""
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    return seconds, int(result.stderr.strip().splitlines()[-1]) / 1024, result.stdout


def split_parquet(source: Path, sizes: list[int]) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    paths, start = [], 0
    for i, size in enumerate(sizes):
        path = source.with_name(f"part{i}.parquet")
        pq.write_table(table.slice(start, size), path)
        paths.append(str(path))
        start += size
    return paths


def report(backend: str, what: str, seconds: float, peak: float, details) -> None:
    print(f"[{backend}] {what:58s} {seconds:7.1f} s  peak {peak:6.0f} MB  {details}", flush=True)


def run_backend(backend: str, url: str, parts: list[str], workdir: Path, sizes: list[int]) -> None:
    import json

    bin_dir = ROOT / ".venv/bin"
    home = workdir / f"dagster-{backend}"
    home.mkdir()
    materialize = [str(bin_dir / "dagster"), "asset", "materialize", "-m"]
    materialize += ["lmsys_pipeline.definitions", "--select", "new_query_assignments"]
    report(backend, f"build: {sizes[0]:,} rows ingested and embedded", *stage(_load, url, parts[0]))
    seconds, peak, run = stage(_cluster, url)
    report(backend, "build: run A (KMeans k=200, defaults)", seconds, peak, run)
    run_a = run["run_id"]
    report(
        backend, f"build: {sizes[1]:,} newer rows ingested, embedded", *stage(_load, url, parts[1])
    )
    report(
        backend, "yardstick: reads + bare argmax, no writes", *stage(_assign_yardstick, url, run_a)
    )
    report(backend, f"assign_new_queries: {sizes[1]:,} new -> run A", *stage(_assign, url))
    report(
        backend, f"build: {sizes[2]:,} more rows ingested, embedded", *stage(_load, url, parts[2])
    )
    env = {"DAGSTER_HOME": str(home), "LMSYS_DB_URL": url}
    seconds, peak, _ = command(materialize, env)
    late = stage(_late, url, run_a)[2]
    report(backend, "dagster asset materialize new_query_assignments", seconds, peak, late)
    seconds, peak, run = stage(_cluster, url)
    report(backend, "build: run B over all rows", seconds, peak, run)
    run_b = run["run_id"]
    report(backend, "build: arrival times over 26 weeks", *stage(_spread_times, url))
    report(
        backend, "yardstick: assignments + contingency", *stage(_diff_yardstick, url, run_a, run_b)
    )
    seconds, peak, out = command([str(bin_dir / "lmsys"), "diff", run_a, run_b, "--json"], env)
    report(backend, "lmsys diff A B --json", seconds, peak, json.loads(out)["counts"])
    report(backend, "yardstick: weekly GROUP BY in SQL", *stage(_trends_yardstick, url, run_b))
    argv = [str(bin_dir / "lmsys"), "trends", run_b, "--by", "week", "--json"]
    seconds, peak, out = command(argv, env)
    trend = json.loads(out)
    shape = f"{len(trend['periods'])} weeks, {len(trend['clusters'])} clusters"
    report(backend, "lmsys trends B --by week --json", seconds, peak, shape)
    report(backend, "  its phases, in process", *stage(_trends_phases, url, run_b))


def main() -> None:
    from lmsys_synthetic import write_lmsys_parquet

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workdir", help="Keep the files here (default: a temporary folder).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        workdir = Path(args.workdir or name)
        workdir.mkdir(parents=True, exist_ok=True)
        sizes = [args.rows, args.new, args.new]
        whole = in_fresh_process(write_lmsys_parquet, workdir / "all.parquet", sum(sizes))
        parts = in_fresh_process(split_parquet, whole, sizes)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend(backend, f"sqlite:///{workdir}/current.db", parts, workdir, sizes)
            else:
                from lmsys_pipeline_tests.support.postgres import postgres_server

                with postgres_server() as url:
                    run_backend(backend, url, parts, workdir, sizes)


if __name__ == "__main__":
    main()
