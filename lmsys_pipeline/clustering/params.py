"""What defines a clustering run: everything needed to reproduce its assignments.

Each algorithm has its own typed parameters; what every run shares (seed, embedding model,
limit, reduction) sits in ``RunSettings``. The parameters are validated before any row is
written and stored whole in ``ClusteringRun.parameters``; materializing the run reads them
back, so re-materializing the same ``run_id`` gives the same assignments.
"""

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
Reduction = Literal["pca", "none"]


class RunSettings(BaseModel, extra="forbid"):
    """Settings every clustering run has, whatever its algorithm."""

    seed: int = Field(default=42, description="Random seed (runs are reproducible).")
    embedding_model: str = Field(default=DEFAULT_MODEL, description="Whose vectors to cluster.")
    limit: int | None = Field(
        default=None, ge=1, description="Cluster only the first N embedded queries by id."
    )
    reduction: Reduction = Field(description="pca or none: how vectors are reduced first.")
    reduce_dims: int = Field(ge=2, description="Dimensions after the reduction.")


class KMeansParams(RunSettings):
    algorithm: Literal["kmeans"] = "kmeans"
    n_clusters: int = Field(ge=1, description="k.")
    n_init: int = Field(default=10, ge=1, description="Initialisations; the best is kept.")
    max_iter: int = Field(default=25, ge=1, description="Iterations per initialisation.")
    train_points_per_centroid: int = Field(
        default=256, ge=1, description="Initialisations fit on up to this many x k vectors."
    )
    refine_iter: int = Field(
        default=10, ge=0, description="Iterations on all vectors after the best init."
    )
    reduction: Reduction = "pca"
    reduce_dims: int = Field(default=128, ge=2, description="Dimensions after the reduction.")


class HDBSCANParams(RunSettings):
    algorithm: Literal["hdbscan"] = "hdbscan"
    min_cluster_size: int = Field(ge=2, description="Smallest cluster.")
    min_samples: int | None = Field(default=None, ge=1, description="HDBSCAN min_samples.")
    backend: Literal["fast_hdbscan", "hdbscan"] = Field(
        default="fast_hdbscan", description="fast_hdbscan (default) or the hdbscan library."
    )
    max_fit_points: int | None = Field(
        default=200_000,
        ge=100,
        description="Fit on a sample this large; the rest join their nearest fitted point.",
    )
    assign_noise: bool = Field(default=False, description="Move noise to the nearest cluster.")
    reduction: Reduction = "pca"
    reduce_dims: int = Field(default=10, ge=2, description="Dimensions after the reduction.")


ClusteringParams = KMeansParams | HDBSCANParams

# Keys of runs registered before the parameters were split per algorithm.
_LEGACY_KEYS = {
    "kmeans": {"kmeans_reduce_dims": "reduce_dims"},
    "hdbscan": {"hdbscan_backend": "backend", "hdbscan_max_fit_points": "max_fit_points"},
}


def upgrade_stored(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored parameters in today's shape: a run registered before the split keeps
    reproducing (its flat keys renamed; keys of the other algorithm dropped)."""
    algorithm = stored.get("algorithm")
    if algorithm not in _LEGACY_KEYS or "reduction" in stored:
        return stored
    fields = dict(stored)
    if algorithm == "kmeans":
        fields.pop("reduce_dims", None)
        dims = fields.pop("kmeans_reduce_dims", 128)
        fields["reduction"], fields["reduce_dims"] = ("pca", dims) if dims else ("none", 384)
    for old, new in _LEGACY_KEYS[algorithm].items():
        if old in fields:
            fields[new] = fields.pop(old)
    return fields


def new_run_id(algorithm: str, size: int, existing: set[str], now: datetime | None = None) -> str:
    """``kmeans-<k>-<YYYYMMDD-HHMMSS>`` / ``hdbscan-<min size>-...``, suffixed ``-2``, ``-3``
    when another run already took that second."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = f"{algorithm}-{size}-{stamp}"
    candidate, suffix = base, 2
    while candidate in existing:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate
