"""A fresh process's first clustering fit with numba's cache empty (the yardstick: what every
process paid before ``make setup`` compiled it) against the same fit after the warm-up
(``python -m lmsys_pipeline.clustering.warm``). Each fit runs in a new Python process with its
own NUMBA_CACHE_DIR, on the warm-up's synthetic vectors (speed only: the fit code is the
pipeline's, unchanged).

    .venv/bin/python benchmarks/warm_start.py
"""

import math
import os
import subprocess
import sys
import tempfile
import time

FIT = """
import time
from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.clustering.warm import warm_vectors
params = {{"kmeans": KMeansParams(n_clusters=5), "hdbscan": HDBSCANParams()}}["{name}"]
vectors = warm_vectors()
started = time.perf_counter()
fit_clustering(vectors, params)
print(time.perf_counter() - started)
"""


def _in_new_process(code: list[str], cache: str) -> tuple[float, str]:
    """(wall seconds of the whole process, its last stdout line)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *code],
        env={**os.environ, "NUMBA_CACHE_DIR": cache},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as cold, tempfile.TemporaryDirectory() as warmed:
        for name in ("kmeans", "hdbscan"):
            wall, fit = _in_new_process(["-c", FIT.format(name=name)], cold)
            rows.append((f"{name}, empty cache (yardstick)", wall, float(fit)))
        wall, said = _in_new_process(["-m", "lmsys_pipeline.clustering.warm"], warmed)
        rows.append((f"warm-up ({said})", wall, float("nan")))
        for name in ("kmeans", "hdbscan"):
            wall, fit = _in_new_process(["-c", FIT.format(name=name)], warmed)
            rows.append((f"{name}, after the warm-up", wall, float(fit)))
    print("| process | wall s | fit s |\n|---|---:|---:|")
    for label, wall, fit in rows:
        print(f"| {label} | {wall:.1f} | {'-' if math.isnan(fit) else f'{fit:.1f}'} |")


if __name__ == "__main__":
    main()
