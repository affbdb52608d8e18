"""The reduction step before clustering: fewer dimensions, chosen per run.

- ``umap`` (the default) keeps each query's neighbourhood (cosine, ``umap_neighbors``
  neighbours, ``umap_min_dist`` 0). It is fitted on a seeded sample of at most ``umap_sample``
  queries and covers only those: transforming the rest would cost ~10 minutes per million
  here, so the algorithm gives them their clusters in the original space instead (the
  registry's ``assign_rest``). Seeded, it runs on one thread (``random_state`` makes UMAP
  sequential) and repeats bit for bit. Below ``EXACT_KNN_ROWS`` points UMAP would find the
  exact neighbours by calling its compiled cosine once per pair from Python (5.7 s for
  Banking77's 3,080 queries); here a matrix product finds them and UMAP's cosine measures
  only those (0.46 s, ``benchmarks/umap_small.py``), so the layout is the one UMAP's own
  search gives, bit for bit.
- ``pca`` fits PCA on up to ``PCA_FIT_SAMPLE`` vectors and applies it to all.
- ``none`` keeps the vectors whole.

PCA and ``none`` keep the vectors' angles, so spherical k-means may put their rows back on the
unit sphere; UMAP coordinates are positions, not directions, and are clustered as they are
(so is everything HDBSCAN sees: re-normalising a 10-d PCA projection merged most of the demo
sample into one HDBSCAN cluster).
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lmsys_pipeline.clustering.params import RunSettings
from lmsys_pipeline.clustering.umap_jit import load_umap
from lmsys_pipeline.vectors import CHUNK_ROWS, unit_rows

PCA_FIT_SAMPLE = 100_000
# UMAP's spectral start fails on a handful of points and it warns below n_neighbors; smaller
# runs are reduced with PCA instead, and the run's details say so.
UMAP_MIN_ROWS = 50
# UMAP computes every pairwise distance below this many points (its ``_small_data`` case).
EXACT_KNN_ROWS = 4096
NEIGHBOUR_MARGIN = 8
TIE_TOLERANCE = 1e-6  # cosines this close may round either way between numpy and numba


@dataclass
class Reduced:
    """The points an algorithm fits on: one per row of ``fitted_rows`` (every input row when
    None). ``angular``: the points keep the vectors' angles (PCA, none), so cosine still
    means something and they may go back on the unit sphere."""

    points: np.ndarray
    fitted_rows: np.ndarray | None = None
    angular: bool = True
    details: dict[str, int | str] = field(default_factory=dict)


def reduce_with_pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    fit_on = x if len(x) <= PCA_FIT_SAMPLE else x[rng.choice(len(x), PCA_FIT_SAMPLE, replace=False)]
    pca = PCA(
        n_components=min(dims, x.shape[1], len(fit_on) - 1),
        random_state=seed,
        svd_solver="randomized",
    ).fit(fit_on)
    reduced = np.empty((len(x), pca.n_components_), dtype=np.float32)
    for start in range(0, len(x), CHUNK_ROWS):  # transform centres a copy: keep it small
        reduced[start : start + CHUNK_ROWS] = pca.transform(x[start : start + CHUNK_ROWS])
    return reduced


def _pca(x: np.ndarray, settings: RunSettings) -> Reduced:
    dims = settings.reduce_dims or x.shape[1]
    if dims >= x.shape[1]:
        return _none(x, settings)
    points = reduce_with_pca(x, dims, settings.seed)
    return Reduced(points, details={"reduction": "pca", "reduced_dims": points.shape[1]})


def _none(x: np.ndarray, settings: RunSettings) -> Reduced:
    return Reduced(x, details={"reduction": "none", "reduced_dims": x.shape[1]})


def seeded_sample(rows: int, size: int, seed: int) -> np.ndarray:
    """``size`` of ``rows`` row numbers, sorted, the same for the same seed."""
    return np.sort(np.random.default_rng(seed).choice(rows, size, replace=False))


def exact_cosine_neighbours(
    x: np.ndarray, k: int, distance: Callable[[np.ndarray, np.ndarray], float]
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each row's ``k`` nearest rows by cosine, as UMAP's small-data
    case finds them: a matrix product picks the candidates (the ``k + NEIGHBOUR_MARGIN``
    most similar rows and every row tied with the last of them, so many duplicate texts
    stay exact); ``distance`` (UMAP's own cosine) measures them on float32, as UMAP does;
    they are ordered by that distance, ties by row number (UMAP's stable sort). So the
    neighbours, their distances and the layout are UMAP's to the last bit."""
    points = np.asarray(x, dtype=np.float32)
    rows = points.astype(np.float64)
    rows /= np.maximum(np.linalg.norm(rows, axis=1), np.finfo(np.float64).tiny)[:, None]
    similarity = rows @ rows.T
    np.fill_diagonal(similarity, np.inf)  # itself: distance 0 however its norm rounds
    take = min(k + NEIGHBOUR_MARGIN, len(points))
    floor = -np.partition(-similarity, take - 1, axis=1)[:, take - 1] - TIE_TOLERANCE
    indices = np.empty((len(points), k), dtype=np.int64)
    distances = np.empty((len(points), k), dtype=np.float64)
    for row in range(len(points)):
        near = np.flatnonzero(similarity[row] >= floor[row])
        measured = np.array([distance(points[row], points[other]) for other in near])
        order = np.lexsort((near, measured))[:k]
        indices[row], distances[row] = near[order], measured[order]
    return indices, distances


def _umap(x: np.ndarray, settings: RunSettings) -> Reduced:
    if len(x) < UMAP_MIN_ROWS:
        reduced = _pca(x, settings)
        reduced.details["reduction_fallback"] = (
            f"pca: {len(x)} queries are too few for UMAP (it needs {UMAP_MIN_ROWS})"
        )
        return reduced
    umap = load_umap()
    sampled = len(x) > settings.umap_sample
    fitted_rows = seeded_sample(len(x), settings.umap_sample, settings.seed) if sampled else None
    fit_on = x[fitted_rows] if sampled else x
    dims = min(settings.reduce_dims or 5, len(fit_on) - 2)
    neighbours = min(settings.umap_neighbors, len(fit_on) - 1)
    model = umap.UMAP(
        n_components=dims,
        n_neighbors=neighbours,
        min_dist=settings.umap_min_dist,
        metric="cosine",
        random_state=settings.seed,
        n_jobs=1,  # what random_state implies anyway; saying it avoids UMAP's warning
        precomputed_knn=(*exact_cosine_neighbours(fit_on, neighbours, umap.distances.cosine), None)
        if len(fit_on) < EXACT_KNN_ROWS
        else (None, None, None),
    )
    with warnings.catch_warnings():
        # no search index comes with the neighbours: only ``transform`` needs one, never called
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        points = np.ascontiguousarray(model.fit_transform(fit_on), dtype=np.float32)
    return Reduced(
        points,
        fitted_rows,
        angular=False,
        details={"reduction": "umap", "reduced_dims": dims, "fitted_rows": len(fit_on)},
    )


REDUCERS: dict[str, Callable[[np.ndarray, RunSettings], Reduced]] = {
    "umap": _umap,
    "pca": _pca,
    "none": _none,
}


def reduce(x: np.ndarray, settings: RunSettings, *, on_sphere: bool) -> Reduced:
    """``x`` (unit rows) reduced as ``settings`` say; angular results put back on the unit
    sphere when ``on_sphere``."""
    reduced = REDUCERS[settings.reduction](x, settings)
    reduced.details.setdefault("fitted_rows", len(reduced.points))
    if on_sphere and reduced.angular:
        reduced.points = unit_rows(reduced.points)
    return reduced
