"""UMAP's compiled code is written by the first process and loaded by the next."""

import json
import os
import subprocess
import sys

import pytest

# One of umap-learn's compiled functions, called as a fit calls it (a whole fit would compile
# them all: ~20 s a process).
COMPILE_AND_COUNT = """
import json
import numpy as np
from lmsys_pipeline.clustering.umap_jit import load_umap
umap = load_umap()
x = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
umap.distances.euclidean(x[0], x[1])
stats = umap.distances.euclidean.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def _compile_in_new_process() -> dict[str, int]:
    completed = subprocess.run(
        [sys.executable, "-c", COMPILE_AND_COUNT],
        env=os.environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.subprocess
def test_the_second_process_loads_what_the_first_compiled():
    """Where numba keeps it by default (here: beside umap-learn's source, as for a user).
    The first process compiles or finds an earlier process's code; the next one finds it."""
    first = _compile_in_new_process()
    assert first["hits"] + first["misses"] == 1
    assert _compile_in_new_process() == {"hits": 1, "misses": 0}
