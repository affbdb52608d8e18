"""The reduction step before clustering: fewer dimensions, chosen per run.

``pca`` fits PCA on up to ``PCA_FIT_SAMPLE`` vectors and applies it to all; ``none`` keeps the
vectors whole. Each algorithm says whether the reduced rows go back onto the unit sphere
(spherical k-means) or stay as they are (density clustering: re-normalising a 10-d PCA
projection merged most of the demo sample into one HDBSCAN cluster).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lmsys_pipeline.vectors import CHUNK_ROWS, unit_rows

PCA_FIT_SAMPLE = 100_000


@dataclass
class Reduced:
    """The points an algorithm fits on, one per input vector."""

    points: np.ndarray
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


def _pca(x: np.ndarray, dims: int, seed: int) -> Reduced:
    if dims >= x.shape[1]:
        return _none(x, dims, seed)
    points = reduce_with_pca(x, dims, seed)
    return Reduced(points, {"reduction": "pca", "reduced_dims": points.shape[1]})


def _none(x: np.ndarray, dims: int, seed: int) -> Reduced:
    return Reduced(x, {"reduction": "none", "reduced_dims": x.shape[1]})


REDUCERS: dict[str, Callable[[np.ndarray, int, int], Reduced]] = {"pca": _pca, "none": _none}


def reduce(x: np.ndarray, method: str, dims: int, seed: int, *, on_sphere: bool) -> Reduced:
    """``x`` (unit rows) reduced by ``method``; rows put back on the unit sphere when
    ``on_sphere``."""
    reduced = REDUCERS[method](x, dims, seed)
    if on_sphere:
        reduced.points = unit_rows(reduced.points)
    return reduced
