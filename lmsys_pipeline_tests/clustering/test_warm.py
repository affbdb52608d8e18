"""The install-time warm-up compiles what real clustering runs compile: after it, no process
compiles numba code for a default KMeans or HDBSCAN run."""

import re
import sys
from pathlib import Path

from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.registry import fit_clustering
from lmsys_pipeline.clustering.warm import warm_vectors
from lmsys_pipeline.embedding.loading import load_vectors

COMPILED_PACKAGES = ("umap", "fast_hdbscan", "pynndescent")


def _compiled_here() -> dict[str, int]:
    """Per numba function of the clustering libraries: signatures this process compiled
    because no cached code was on disk. Functions declared with their signature are compiled
    when their module is imported, before caching can be turned on (umap's tau_rand: tiny);
    numba then closes them to further compiles."""
    from numba.core.dispatcher import Dispatcher

    misses = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in COMPILED_PACKAGES:
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, Dispatcher) and value._can_compile:
                missed = sum(value.stats.cache_misses.values())
                if missed:
                    misses[f"{name}.{attribute}"] = missed
    return misses


def test_real_runs_compile_nothing_the_warm_up_did_not(embedded_db):
    """Default runs on 600 real queries load every compiled function from disk, in this
    worker (whatever clustering ran in it before) as in a user's first ``lmsys cluster``."""
    vectors = load_vectors(embedded_db, "all-MiniLM-L6-v2").for_queries()
    for params in (KMeansParams(n_clusters=6), HDBSCANParams()):
        fit = fit_clustering(vectors, params)
        assert fit.details["reduction"] == "umap"
    assert _compiled_here() == {}


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
