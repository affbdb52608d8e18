"""The clustering algorithms, in one registry: their parameters, how they fit and what their
runs promise. Everything that names an algorithm (the CLI, the asset config, run ids of
hand-made partitions, the re-clustering schedule) goes through here.

A fit takes every unit vector and the reduced points, which may cover only a seeded sample
(``Reduced.fitted_rows``); it must label every vector, the unfitted ones its own way (KMeans:
nearest centroid; HDBSCAN: a vote of the nearest fitted queries).
"""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from lmsys_pipeline.clustering.density import fit_hdbscan
from lmsys_pipeline.clustering.fit import ClusterFit, check_finite, check_varied
from lmsys_pipeline.clustering.kmeans import fit_kmeans
from lmsys_pipeline.clustering.params import (
    UMAP_FIELDS,
    ClusteringParams,
    HDBSCANParams,
    KMeansParams,
    default_min_cluster_size,
)
from lmsys_pipeline.clustering.reduction import Reduced, reduce
from lmsys_pipeline.errors import UserError, settings_error
from lmsys_pipeline.progress import OnProgress, Progress, no_progress
from lmsys_pipeline.vectors import unit_rows


@dataclass(frozen=True)
class Algorithm:
    name: str
    params: type[KMeansParams] | type[HDBSCANParams]
    size_field: str  # the number in the run id: k, or the smallest cluster
    fit: Callable[[np.ndarray, Reduced, Any, OnProgress], ClusterFit]
    # Spherical k-means wants angular reductions (PCA, none) as unit rows; density wants
    # distances as they are.
    reduced_on_sphere: bool
    confidence_range: tuple[float, float]
    fills_every_cluster: bool  # k-means promises k non-empty clusters; HDBSCAN finds its own
    too_few_queries: str  # one sentence, with {available} queries and the run's {size}
    # The size a run gets when none is given, from the number of queries it will cluster
    # (None: the size must be given).
    default_size: Callable[[int], int] | None = None

    def size(self, params: ClusteringParams) -> int:
        return int(getattr(params, self.size_field))

    def sized_for(self, params: ClusteringParams, queries: int) -> ClusteringParams:
        """``params`` with the size made explicit for a run over ``queries`` queries, so that
        the recorded parameters (and the run id) say what the run used."""
        if getattr(params, self.size_field) is not None or self.default_size is None:
            return params
        return params.model_copy(update={self.size_field: self.default_size(queries)})


ALGORITHMS: dict[str, Algorithm] = {
    "kmeans": Algorithm(
        name="kmeans",
        params=KMeansParams,
        size_field="n_clusters",
        fit=fit_kmeans,
        reduced_on_sphere=True,
        confidence_range=(-1.0, 1.0),
        fills_every_cluster=True,
        too_few_queries="There are {available} embedded queries, fewer than the {size} "
        "clusters asked for: lower --n-clusters or load more queries.",
    ),
    "hdbscan": Algorithm(
        name="hdbscan",
        params=HDBSCANParams,
        size_field="min_cluster_size",
        fit=fit_hdbscan,
        reduced_on_sphere=False,
        confidence_range=(0.0, 1.0),
        fills_every_cluster=False,
        too_few_queries="--min-cluster-size {size} is larger than the {available} embedded "
        "queries: lower it or load more queries.",
        default_size=default_min_cluster_size,
    ),
}
RUN_ID_PARAMS = re.compile(rf"^({'|'.join(ALGORITHMS)})-(\d+)-")
OPTION_NAMES = {"backend": "--backend", "n_clusters": "--n-clusters"}


def _option(field: str) -> str:
    return OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


def algorithm(name: str) -> Algorithm:
    """The registered algorithm called ``name``; one sentence listing them otherwise."""
    found = ALGORITHMS.get(name)
    if found is None:
        raise UserError(
            f"Unknown clustering algorithm {name!r}: use one of {', '.join(ALGORITHMS)} "
            "(lower case)."
        )
    return found


def algorithm_of(params: ClusteringParams) -> Algorithm:
    return ALGORITHMS[params.algorithm]


def build_params(name: str, fields: Mapping[str, Any]) -> ClusteringParams:
    """Validated parameters of algorithm ``name`` from the fields given (None means "not
    given"); a field another algorithm uses, or a bad value, fails in one sentence."""
    chosen = algorithm(name)
    given = {k: v for k, v in fields.items() if v is not None and k != "algorithm"}
    foreign = sorted(set(given) - set(chosen.params.model_fields))
    if foreign:
        raise UserError(
            f"{', '.join(_option(f) for f in foreign)} does not apply to {name}: leave it out."
        )
    try:
        params = chosen.params(**given)
    except ValidationError as error:
        raise settings_error(error, OPTION_NAMES) from None
    unused = [f for f in UMAP_FIELDS if f in given]
    if unused and params.reduction != "umap":
        raise UserError(
            f"{', '.join(_option(f) for f in unused)} applies to --reduction umap only, not "
            f"{params.reduction}: leave it out."
        )
    return params


def params_from_run_id(run_id: str) -> ClusteringParams | None:
    """Default parameters implied by a seed-style run id (``kmeans-100-...``), for runs whose
    partition was added by hand in the UI without registering parameters."""
    match = RUN_ID_PARAMS.match(run_id)
    if match is None:
        return None
    chosen = ALGORITHMS[match.group(1)]
    return build_params(chosen.name, {chosen.size_field: int(match.group(2))})


def parse_stored(stored: Mapping[str, Any]) -> ClusteringParams:
    """The parameters recorded in ``ClusteringRun.parameters`` (other keys ignored)."""
    from lmsys_pipeline.clustering.params import upgrade_stored

    fields = upgrade_stored(dict(stored))
    chosen = algorithm(str(fields.get("algorithm")))
    return chosen.params(**{k: v for k, v in fields.items() if k in chosen.params.model_fields})


def fit_clustering(
    vectors: np.ndarray,
    params: ClusteringParams,
    on_progress: OnProgress = no_progress,
    query_ids: np.ndarray | None = None,
) -> ClusterFit:
    """Unit rows → the run's reduction → its algorithm; seconds per phase in the result.
    ``on_progress`` hears each phase begin (reduce, fit, assign) and the fit's counts;
    ``query_ids`` (row by row) name a vector that cannot be clustered."""
    chosen = algorithm_of(params)
    check_finite(vectors, query_ids)
    x = unit_rows(vectors)
    check_varied(x)
    on_progress(Progress("cluster", len(x), None, "queries", phase="reduce"))
    started = time.perf_counter()
    reduced = reduce(x, params, on_sphere=chosen.reduced_on_sphere)
    reduced_at = time.perf_counter()
    fit = chosen.fit(x, reduced, params, on_progress)
    fit.phase_seconds = {"reduce": reduced_at - started, **fit.phase_seconds}
    fit.details = {**reduced.details, **fit.details}
    return fit
