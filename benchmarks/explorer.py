"""The explorer (``lmsys serve``) over a large database, SQLite and PostgreSQL, the server in
its own process: request latency per route (p50 / p95, measured by a client on 127.0.0.1, so
an upper bound of the server's time), search exactness (recall@10 against brute force), 20
simulated users for 60 s, the server's peak memory, and the map of 50,000 points drawn in
headless Chromium.

The database is built through the pipeline's own code, as ``keeping_current.py`` builds it:
LMSYS-layout rows (``lmsys_synthetic.py``) through ``ingest_batches``; vectors through
``embed_pending`` with a *synthetic* embedder stored under the default model's name (unit
vectors around 200 centres keyed by the text's hash: the real model takes ~1.7 h per 1M texts
on this CPU), so the server embeds a search with the real all-MiniLM-L6-v2 and ranks the
synthetic vectors exactly; KMeans k=200 (``register_run`` + ``materialize_run``); an offline
keyword summary run; an offline hierarchy of two parent levels (clusters + 2 = 3 levels).

Yardstick, in the same script: the SQL behind each page run alone on the same database (the
run list and its counts; the run's cluster sizes, titles and tree rows; a cluster's first
page of members and their count), and for search the query embedded in-process plus one
numpy matrix product over the run's vectors held in memory.

    flock -x /tmp/lmsys-heavy.lock .venv/bin/python benchmarks/explorer.py \
        [--rows 1000000] [--backends sqlite,postgresql] [--users 20] [--seconds 60] \
        [--keep /tmp/explorer1m [--build-only]]

With ``--keep DIR`` the rows, the databases (the SQLite file, a PostgreSQL cluster) and their
vector caches are built once into DIR and reused by later runs (the build's times are kept in
``DIR/built-BACKEND.json``); ``--build-only`` stops after building.
"""

import argparse
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeping_current import CENTRES
from keeping_current import SyntheticEmbedder as CentredEmbedder
from measure import in_fresh_process

ROOT = Path(__file__).resolve().parents[1]
MAP_SIZES = (1_000, 3_000, 10_000, 50_000)
SEARCHES = [
    "my card was stolen",
    "write a poem about the sea",
    "how do I sort a list in python",
    "explain quantum computing simply",
    "translate this sentence into french",
    "what is the capital of australia",
    "give me a recipe for pancakes",
    "summarize the following article",
    "write a cover letter for a software job",
    "what are the symptoms of the flu",
]


class SyntheticEmbedder(CentredEmbedder):
    """``keeping_current.py``'s synthetic vectors (around ``CENTRES`` centres, the same vector
    for the same text), stored under the default model's name so that the server embeds a
    search with the real model."""

    def __init__(self) -> None:
        from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL

        super().__init__()
        self.name = DEFAULT_MODEL


def build(url: str, parquet: str) -> dict:
    """Ingest, embed, cluster (k=200), summarize and build the tree; returns ids and times."""
    from lmsys_pipeline.clustering.registry import build_params
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.runner import embed_pending
    from lmsys_pipeline.ingestion.loader import ingest_batches
    from lmsys_pipeline.ingestion.sources import open_source
    from lmsys_pipeline_tests.support.pipeline_data import build_tree, summarize

    db = DatabaseManager(url)
    seconds = {}
    started = time.perf_counter()
    ingest_batches(db, open_source(parquet).batches(10_000))
    embed_pending(db, SyntheticEmbedder())
    seconds["ingest + embed"] = time.perf_counter() - started
    started = time.perf_counter()
    run = register_run(db, build_params("kmeans", {"n_clusters": CENTRES}))
    materialize_run(db, run.run_id)
    seconds["cluster"] = time.perf_counter() - started
    started = time.perf_counter()
    summarize(db, run.run_id, "kw", label_quality_queries=0)
    build_tree(db, run.run_id, "kw", levels=2, top=10)
    seconds["summarize + tree"] = time.perf_counter() - started
    db.dispose()
    return {"run_id": run.run_id, "seconds": seconds}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(url: str, env: dict) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "lmsys"), "serve", "--db-url", url, "--port",
         str(port), "--preload-model"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the explorer stopped: {server.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/session", timeout=5).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.5)  # a benchmark waiting for its server, not a test's synchronisation
    raise RuntimeError("the explorer did not answer within 300 s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(call, times: int) -> tuple[float, float]:
    """(p50, p95) in ms of ``times`` calls after one warm-up call."""
    call()
    took = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        took.append(1000 * (time.perf_counter() - started))
    return percentile(took, 50), percentile(took, 95)


def routes(base: str, run_id: str, clusters: list[int]) -> dict:
    import httpx

    client = httpx.Client(base_url=base, timeout=120)
    biggest = clusters[0]

    def get(path, **params):
        answer = client.get(path, params=params)
        answer.raise_for_status()
        return answer

    return {
        "/api/runs": lambda: get("/api/runs"),
        "/api/runs/{id}": lambda: get(f"/api/runs/{run_id}"),
        "members, first page (largest cluster)": lambda: get(
            f"/api/runs/{run_id}/clusters/{biggest}/members"
        ),
        "/api/runs/{id}/clusters/{c} (whole cluster view)": lambda: get(
            f"/api/runs/{run_id}/clusters/{biggest}"
        ),
        "/api/search over the run (top 10)": lambda: get(
            "/api/search", q=random.choice(SEARCHES), run_id=run_id, top_k=10
        ),
    }


def yardsticks(url: str, run_id: str, cluster: int, summary_run: str, hierarchy_run: str):
    """The SQL behind each page, run alone, and brute-force search in memory."""
    import numpy as np
    from sqlalchemy import create_engine, text

    engine = create_engine(url if "://" in url else f"sqlite:///{url}")
    statements = {
        "/api/runs": [
            "SELECT * FROM clustering_runs ORDER BY created_at DESC",
            "SELECT run_id, count(*), sum(CASE WHEN cluster_id = -1 THEN 1 ELSE 0 END) "
            "FROM query_clusters GROUP BY run_id",
            "SELECT run_id, alias, count(*) FROM cluster_summaries GROUP BY run_id, alias",
        ],
        "/api/runs/{id}": [
            "SELECT cluster_id, count(*) FROM query_clusters WHERE run_id = :run "
            "GROUP BY cluster_id",
            "SELECT cluster_id, title, description FROM cluster_summaries "
            "WHERE summary_run_id = :summary",
            "SELECT * FROM cluster_hierarchies WHERE hierarchy_run_id = :hierarchy",
        ],
        "members, first page (largest cluster)": [
            "SELECT count(*) FROM query_clusters WHERE run_id = :run AND cluster_id = :cluster",
            "SELECT q.id, q.query_text, q.language, q.model, qc.confidence_score "
            "FROM query_clusters qc JOIN queries q ON q.id = qc.query_id "
            "WHERE qc.run_id = :run AND qc.cluster_id = :cluster "
            "ORDER BY qc.confidence_score DESC, q.id LIMIT 50",
        ],
    }
    values = {"run": run_id, "cluster": cluster, "summary": summary_run, "hierarchy": hierarchy_run}
    found = {}
    for name, sqls in statements.items():

        def run_all(sqls=sqls):
            with engine.connect() as connection:
                for sql in sqls:
                    connection.execute(text(sql), values).all()

        found[name] = timed(run_all, 30)
    engine.dispose()

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL, load_embedder
    from lmsys_pipeline.embedding.loading import load_vectors

    stored = load_vectors(DatabaseManager(url), DEFAULT_MODEL)
    matrix = stored.vectors[stored.rows]
    model = load_embedder(DEFAULT_MODEL)

    def brute():
        query = model.embed([random.choice(SEARCHES)])[0]
        scores = matrix @ query
        np.argpartition(-scores, 10)[:10]

    found["/api/search over the run (top 10)"] = timed(brute, 30)
    return found


def recall_at_10(url: str, base: str, run_id: str) -> float:
    """Hits of ``/api/search`` at or above brute force's 10th score (ties count: duplicate
    texts share a vector), over every phrase of ``SEARCHES``."""
    import httpx
    import numpy as np

    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL, load_embedder
    from lmsys_pipeline.embedding.loading import load_vectors

    stored = load_vectors(DatabaseManager(url), DEFAULT_MODEL)
    matrix = stored.vectors[stored.rows]
    model = load_embedder(DEFAULT_MODEL)
    good = 0
    for phrase in SEARCHES:
        scores = matrix @ model.embed([phrase])[0]
        tenth = np.sort(scores)[-10]
        hits = httpx.get(
            f"{base}/api/search", params={"q": phrase, "run_id": run_id, "top_k": 10}, timeout=60
        ).json()
        by_id = dict(zip(stored.query_ids.tolist(), scores.tolist(), strict=True))
        good += sum(1 for hit in hits if by_id[hit["query_id"]] >= tenth - 1e-5)
    return good / (10 * len(SEARCHES))


def load_test(base: str, run_id: str, clusters: list[int], users: int, seconds: float) -> dict:
    """``users`` threads, each a bounded loop over the routes until ``seconds`` pass."""
    import httpx

    deadline = time.monotonic() + seconds
    took: list[float] = []
    by_route: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def user(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=120) as client:
            while time.monotonic() < deadline:
                cluster = rng.choice(clusters)
                path, params = rng.choice(
                    [
                        ("/api/runs", {}),
                        (f"/api/runs/{run_id}", {}),
                        (f"/api/runs/{run_id}/clusters/{cluster}/members", {}),
                        (f"/api/runs/{run_id}/clusters/{cluster}/members", {"page": 2}),
                        ("/api/search", {"q": rng.choice(SEARCHES), "run_id": run_id}),
                    ]
                )
                started = time.perf_counter()
                try:
                    status = client.get(path, params=params).status_code
                except httpx.HTTPError as error:
                    status = repr(error)
                with lock:
                    took.append(1000 * (time.perf_counter() - started))
                    route = path.replace(run_id, "{id}").replace(f"/{cluster}/", "/{c}/")
                    route += " page 2" if params.get("page") else ""
                    by_route.setdefault(route, []).append(took[-1])
                    if status != 200:
                        errors.append(f"{path}: {status}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "requests": len(took),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": percentile(took, 50),
        "p95_ms": percentile(took, 95),
        "by_route (n, p50, p95 ms)": {
            route: (len(values), round(percentile(values, 50)), round(percentile(values, 95)))
            for route, values in sorted(by_route.items())
        },
    }


def map_in_chromium(base: str, run_id: str, sample: int) -> dict:
    """Opens the run's page, asks for ``sample`` points and waits until they are drawn."""
    from lmsys_pipeline_tests.support.web import chromium

    with chromium() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{base}/runs/{run_id}", timeout=120_000)
        page.wait_for_selector("[data-map-src][data-points]", timeout=300_000)
        page.select_option("select[name=sample]", str(sample))
        page.eval_on_selector("[data-map-src]", "box => box.removeAttribute('data-points')")
        started = time.perf_counter()
        page.click("[data-draw-map]")
        page.wait_for_selector("[data-map-src][data-points]", timeout=300_000)
        wall = time.perf_counter() - started
        drawn = int(page.get_attribute("[data-map-src]", "data-drawn-ms"))
        points = int(page.get_attribute("[data-map-src]", "data-points"))
    return {"points": points, "draw_ms": drawn, "click_to_drawn_s": round(wall, 2)}


def ids_of(url: str, run_id: str) -> tuple[list[int], str, str]:
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.explorer import data

    db = DatabaseManager(url)
    choice = data.summary_choice(db, run_id, "kw")
    found, _ = data.hierarchy(db, run_id, choice)
    sizes = data.clusters(db, run_id, choice)
    db.dispose()
    ordered = [c.cluster_id for c in sorted(sizes, key=lambda c: -c.size) if c.cluster_id >= 0]
    return ordered, choice.summary_run_id, found.hierarchy_run_id


def built_once(backend: str, url: str, parquet: str, workdir: Path, rows: int) -> dict:
    """The database built by ``build``, or, in a kept folder, the one built before."""
    record = workdir / f"built-{backend}.json"
    if record.exists():
        built = json.loads(record.read_text())
        if built.get("rows") == rows:
            print(f"reusing {built['run_id']}, built before", flush=True)
            return built
    built = {**in_fresh_process(build, url, parquet), "rows": rows}
    record.write_text(json.dumps(built))
    return built


def run_backend(backend: str, url: str, parquet: str, workdir: Path, args) -> None:
    print(f"\n## {backend} (load average {os.getloadavg()})", flush=True)
    env = {**os.environ, "LMSYS_VECTOR_CACHE": str(workdir / f"cache-{backend}")}
    os.environ["LMSYS_VECTOR_CACHE"] = env["LMSYS_VECTOR_CACHE"]
    built = built_once(backend, url, parquet, workdir, args.rows)
    run_id = built["run_id"]
    print(f"built {run_id}: " + ", ".join(f"{k} {v:.1f} s" for k, v in built["seconds"].items()))
    if args.build_only:
        return
    clusters, summary_run, hierarchy_run = ids_of(url, run_id)
    server, base = start_server(url, env)
    try:
        print("| route | first call ms | p50 ms | p95 ms | yardstick p50 / p95 ms |")
        print("|---|---:|---:|---:|---:|")
        sticks = yardsticks(url, run_id, clusters[0], summary_run, hierarchy_run)
        for name, call in routes(base, run_id, clusters).items():
            started = time.perf_counter()
            call()  # the first call after the server started: nothing held yet
            first = 1000 * (time.perf_counter() - started)
            p50, p95 = timed(call, 30)
            stick = sticks.get(name)
            shown = f"{stick[0]:.1f} / {stick[1]:.1f}" if stick else ""
            print(f"| {name} | {first:.1f} | {p50:.1f} | {p95:.1f} | {shown} |", flush=True)
        print(f"recall@10 of /api/search against brute force: {recall_at_10(url, base, run_id)}")
        import httpx

        # The run page offers these sizes; the largest the database can fill.
        sample = max(size for size in MAP_SIZES if size <= max(args.rows, MAP_SIZES[0]))
        for state in ("cold", "warm"):
            started = time.perf_counter()
            points = httpx.get(
                f"{base}/api/runs/{run_id}/map", params={"sample": sample}, timeout=600
            ).json()["points"]
            took = time.perf_counter() - started
            print(f"/api/runs/{{id}}/map, {len(points):,} points (PCA), {state}: {took:.2f} s")
        print(f"map in Chromium: {map_in_chromium(base, run_id, sample)}", flush=True)
        load = load_test(base, run_id, clusters, args.users, args.seconds)
        print(f"{args.users} users for {args.seconds:.0f} s: {load}")
        print(f"server peak RSS: {_peak_mb(server.pid):,.0f} MB", flush=True)
        print(f"load average at the end: {os.getloadavg()}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    from lmsys_synthetic import write_lmsys_parquet

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--keep", type=Path, help="build the databases once into this folder")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep:
            workdir = args.keep
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        parquet = workdir / "rows.parquet"
        if not (args.keep and parquet.exists()):
            part = in_fresh_process(write_lmsys_parquet, workdir / "rows.part", args.rows)
            part.rename(parquet)
        print(f"{args.rows:,} rows; k={CENTRES}", flush=True)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend(backend, str(workdir / "explorer.db"), str(parquet), workdir, args)
            else:
                from lmsys_pipeline_tests.support.postgres import postgres_server

                keep = workdir / "pg" if args.keep else None
                with postgres_server(keep) as url:
                    run_backend(backend, url, str(parquet), workdir, args)


if __name__ == "__main__":
    main()
