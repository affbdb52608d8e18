"""Clustering speed and memory at scale on synthetic clustered vectors.

N x 384 unit vectors around 2,000 random centres (an LMSYS-like mix of tight and loose topics),
clustered by the function the ``cluster_run`` asset uses (``fit_clustering``: unit rows, the
run's reduction, then KMeans or HDBSCAN with their default parameters).
Each case runs in its own child process, so its peak RSS is its own (data included). The
yardstick for KMeans is sklearn's MiniBatchKMeans with the same k on the same vectors.

    .venv/bin/python benchmarks/cluster.py --rows 1000000 100000
"""

import argparse
import multiprocessing
import resource
import time

import numpy as np

DIMENSION = 384
CENTRES = 2_000


def synthetic(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, DIMENSION)).astype(np.float32)
    spread = rng.uniform(0.3, 1.2, CENTRES).astype(np.float32)
    vectors = np.empty((rows, DIMENSION), dtype=np.float32)
    for start in range(0, rows, 100_000):
        stop = min(rows, start + 100_000)
        which = rng.integers(CENTRES, size=stop - start)
        noise = rng.standard_normal((stop - start, DIMENSION)).astype(np.float32)
        vectors[start:stop] = centres[which] + noise * spread[which, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _case(name: str, rows: int, queue) -> None:
    from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
    from lmsys_pipeline.clustering.registry import fit_clustering

    vectors = synthetic(rows)
    size = int(name.split("-")[1])
    started = time.perf_counter()
    if name.startswith("kmeans"):
        fit = fit_clustering(vectors, KMeansParams(n_clusters=size))
        detail = f"{fit.num_clusters} clusters"
    elif name.startswith("minibatch"):
        from sklearn.cluster import MiniBatchKMeans

        MiniBatchKMeans(size, batch_size=4096, n_init=3, random_state=0).fit(vectors)
        detail = "sklearn yardstick"
    elif name.startswith("hdbscanlib"):
        params = HDBSCANParams(min_cluster_size=size, min_samples=10, backend="hdbscan")
        fit = fit_clustering(vectors, params)
        detail = f"hdbscan library: {fit.num_clusters} clusters"
    else:
        fit = fit_clustering(vectors, HDBSCANParams(min_cluster_size=size, min_samples=10))
        detail = f"{fit.num_clusters} clusters, noise {np.mean(fit.labels == -1):.1%}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((name, rows, seconds, peak, detail))


def run_case(name: str, rows: int, timeout: float) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_case, args=(name, rows, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        print(f"| {name} | {rows:,} | > {timeout:.0f} (stopped) | | |", flush=True)
        return
    name, rows, seconds, peak, detail = queue.get()
    print(f"| {name} | {rows:,} | {seconds:.1f} | {peak:,.0f} | {detail} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--cases", nargs="+", default=["kmeans-200", "kmeans-1000", "minibatch-200", "hdbscan-100"]
    )
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    print("| case | rows | seconds | peak RSS MB | result |\n|---|---:|---:|---:|---|")
    for rows in args.rows:
        for name in args.cases:
            run_case(name, rows, args.timeout)


if __name__ == "__main__":
    main()
