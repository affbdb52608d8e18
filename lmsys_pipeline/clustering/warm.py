"""Compiles, once after install, the numba code a clustering run needs, so that the first
``lmsys cluster`` (and every process after it) loads it from disk instead.

A fresh install compiles UMAP's functions (``umap_jit``) and fast_hdbscan's on first use:
measured on these 2 cores, ``lmsys cluster kmeans`` took 26 s the first time and 7 s after,
``lmsys cluster hdbscan`` 40 s and 6 s. Until the code is on disk every process that clusters
compiles it again, so two processes starting together (the test suite's workers, parallel
Dagster runs) both pay. ``make setup`` runs this module after installing.

The vectors are synthetic: only their shape and dtype matter to the compiler (numba compiles
per argument type), and they are the pipeline's (float32 unit rows, reduced by UMAP to the
algorithms' default dimensions)."""

import time

import numpy as np

from lmsys_pipeline.clustering.params import ClusteringParams, HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering

WARM_ROWS = 300
WARM_DIMENSION = 384


def warm_vectors(rows: int = WARM_ROWS, dimension: int = WARM_DIMENSION) -> np.ndarray:
    """Five loose groups of float32 vectors, seeded: enough structure for HDBSCAN to find
    clusters, so its whole path (tree, labels, probabilities) is compiled."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, dimension))
    vectors = centres[rng.integers(0, 5, rows)] + 0.3 * rng.normal(size=(rows, dimension))
    return vectors.astype(np.float32)


def warm_compiled_code(vectors: np.ndarray | None = None) -> dict[str, float]:
    """Fits each algorithm with its default reduction once; seconds per algorithm."""
    vectors = warm_vectors() if vectors is None else vectors
    runs: list[ClusteringParams] = [KMeansParams(n_clusters=5), HDBSCANParams()]
    seconds = {}
    for params in runs:
        started = time.perf_counter()
        fit_clustering(vectors, params)
        seconds[params.algorithm] = round(time.perf_counter() - started, 1)
    return seconds


if __name__ == "__main__":
    taken = warm_compiled_code()
    print(
        "Compiled clustering code kept on disk: "
        + ", ".join(f"{name} {value} s" for name, value in taken.items())
    )
