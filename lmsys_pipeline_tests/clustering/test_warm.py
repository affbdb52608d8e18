"""The install-time warm-up compiles what real clustering runs compile: after it, no process
compiles numba code for a default KMeans or HDBSCAN run."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lmsys_pipeline.clustering.params import HDBSCANParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.clustering.warm import warm_vectors

# Default runs in a process of their own, on a numba cache of their own that only the warm-up
# filled: a worker's numba functions also count what earlier tests compiled (test_reduction's
# yardstick fits UMAP by its own small-data search, which no run takes and the warm-up does
# not compile), and the shared cache holds what any earlier run compiled, warm-up or not.
CLUSTER_AND_COUNT_COMPILES = """
import json, sys
from numba.core.dispatcher import Dispatcher
from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.loading import load_vectors

vectors = load_vectors(DatabaseManager(sys.argv[1]), "all-MiniLM-L6-v2").for_queries()
reductions = [
    fit_clustering(vectors, params).details["reduction"]
    for params in (KMeansParams(n_clusters=6), HDBSCANParams())
]
misses = {}
for name, module in list(sys.modules.items()):
    if module is None or name.split(".")[0] not in ("umap", "fast_hdbscan", "pynndescent"):
        continue
    for attribute, value in list(vars(module).items()):
        # functions declared with their signature compile on import, before caching can be
        # turned on (umap's tau_rand: tiny); numba then closes them to further compiles
        if isinstance(value, Dispatcher) and value._can_compile:
            missed = sum(value.stats.cache_misses.values())
            if missed:
                misses[f"{name}.{attribute}"] = missed
print(json.dumps({"reductions": reductions, "compiled": misses}))
"""


def _python(arguments: list[str], cache: Path) -> str:
    completed = subprocess.run(
        [sys.executable, *arguments],
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
@pytest.mark.subprocess
def test_real_runs_compile_nothing_the_warm_up_did_not(embedded_db, tmp_path):
    """After the warm-up alone, default runs on 600 real queries, in a new process as a user's
    first ``lmsys cluster``, load every compiled function of the clustering libraries from
    disk. (~1 minute: the warm-up compiles everything anew.)"""
    cache = tmp_path / "numba"
    _python(["-m", "lmsys_pipeline.clustering.warm"], cache)
    printed = _python(["-c", CLUSTER_AND_COUNT_COMPILES, embedded_db.url], cache)
    outcome = json.loads(printed.strip().splitlines()[-1])
    assert outcome == {"reductions": ["umap", "umap"], "compiled": {}}


def test_the_warm_up_vectors_have_the_pipeline_s_type_and_groups():
    vectors = warm_vectors()
    assert vectors.dtype.name == "float32" and vectors.shape == (300, 384)
    fit = fit_clustering(vectors, HDBSCANParams())
    assert len(set(fit.labels.tolist()) - {-1}) >= 2  # the tree and label paths ran


def test_setup_runs_the_warm_up_after_installing():
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    setup = makefile.split("$(STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    warm_after_install = r"pip install .*-e '\.\[dev\]'\n\t.*-m lmsys_pipeline\.clustering\.warm"
    assert re.search(warm_after_install, setup)
