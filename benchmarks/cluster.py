"""Clustering speed and memory at scale on synthetic clustered vectors.

N x 384 unit vectors around 2,000 random centres (an LMSYS-like mix of tight and loose topics),
clustered by the function the ``cluster_run`` asset uses (``fit_clustering``: unit rows, the
run's reduction, then KMeans or HDBSCAN). A case is ``<algorithm>[-<reduction>]-<size>``:
``kmeans-200`` is the quality default (UMAP fitted on a 50k sample), ``kmeans-pca-200`` the
PCA path, ``hdbscan-default`` HDBSCAN's defaults (UMAP, min size max(10, n / 400)),
``hdbscan-pca-100`` the PCA-era HDBSCAN (min samples 10). Synthetic vectors measure speed and
memory only, not quality (benchmarks/quality.py does that on labelled sets).
Each case runs in its own child process, so its peak RSS (VmHWM) is its own, data included and
imports and numba compilation timed. The yardstick for KMeans is sklearn's MiniBatchKMeans with
the same k on the same vectors.

    .venv/bin/python benchmarks/cluster.py --rows 1000000 100000
"""

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

DIMENSION = 384
CENTRES = 2_000


def synthetic(rows: int, seed: int = 0) -> np.ndarray:
    """Unit rows, made and normalised 100k at a time (a whole-matrix norm would double the
    peak memory that the cases are meant to measure)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, DIMENSION)).astype(np.float32)
    spread = rng.uniform(0.3, 1.2, CENTRES).astype(np.float32)
    vectors = np.empty((rows, DIMENSION), dtype=np.float32)
    for start in range(0, rows, 100_000):
        stop = min(rows, start + 100_000)
        which = rng.integers(CENTRES, size=stop - start)
        noise = rng.standard_normal((stop - start, DIMENSION)).astype(np.float32)
        chunk = centres[which] + noise * spread[which, None]
        vectors[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return vectors


def case_params(name: str, **settings):
    """The case's parameters: ``<algorithm>[-<reduction>]-<size>`` with ``settings`` and the
    defaults for everything else (``hdbscan-default``: the min cluster size the run's size
    implies)."""
    from lmsys_pipeline.clustering.registry import build_params

    algorithm, *reduction, size = name.split("-")
    fields = settings | ({"reduction": reduction[0]} if reduction else {})
    if algorithm == "kmeans":
        return build_params("kmeans", {**fields, "n_clusters": int(size)})
    if size != "default":  # the PCA-era cases: min_samples 10 as measured before UMAP
        fields |= {"min_cluster_size": int(size), "min_samples": 10}
    backend = {"backend": "hdbscan"} if algorithm == "hdbscanlib" else {}
    return build_params("hdbscan", {**fields, **backend})


def _case(name: str, rows: int, queue) -> None:
    from measure import peak_mb

    from lmsys_pipeline.clustering.registry import fit_clustering

    vectors = synthetic(rows)
    started = time.perf_counter()
    if name.startswith("minibatch"):
        from sklearn.cluster import MiniBatchKMeans

        size = int(name.split("-")[1])
        MiniBatchKMeans(size, batch_size=4096, n_init=3, random_state=0).fit(vectors)
        detail = "sklearn yardstick"
    else:
        fit = fit_clustering(vectors, case_params(name))
        phases = ", ".join(f"{k} {v:.1f}" for k, v in fit.phase_seconds.items())
        fitted = fit.details.get("fitted_rows", len(fit.labels))
        detail = (
            f"{fit.num_clusters} clusters, noise {np.mean(fit.labels == -1):.1%}, "
            f"{fit.details['reduction']} fitted on {fitted:,}; {phases} s"
        )
    seconds = time.perf_counter() - started
    queue.put((name, rows, seconds, peak_mb(), detail))


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
        "--cases",
        nargs="+",
        default=["kmeans-200", "kmeans-pca-200", "hdbscan-default", "minibatch-200"],
    )
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    print("| case | rows | seconds | peak RSS MB | result |\n|---|---:|---:|---:|---|")
    for rows in args.rows:
        for name in args.cases:
            run_case(name, rows, args.timeout)


if __name__ == "__main__":
    main()
