"""What defines a clustering run: everything needed to reproduce its assignments.

Each algorithm has its own typed parameters; what every run shares (seed, embedding model,
limit, reduction) sits in ``RunSettings``. The parameters are validated before any row is
written and stored whole in ``ClusteringRun.parameters``; materializing the run reads them
back, so re-materializing the same ``run_id`` gives the same assignments.
"""

import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
Reduction = Literal["umap", "pca", "none"]
UMAP_FIELDS = ("umap_neighbors", "umap_min_dist", "umap_sample")


class RunSettings(BaseModel, extra="forbid"):
    """Settings every clustering run has, whatever its algorithm."""

    seed: int = Field(default=42, description="Random seed (runs are reproducible).")
    embedding_model: str = Field(default=DEFAULT_MODEL, description="Whose vectors to cluster.")
    limit: int | None = Field(
        default=None, ge=1, description="Cluster only the first N embedded queries by id."
    )
    reduction: Reduction = Field(description="umap, pca or none: how vectors are reduced first.")
    reduce_dims: int | None = Field(
        default=None,
        ge=2,
        description="Dimensions after the reduction (default: the algorithm's for it; none: "
        "unused).",
    )
    umap_neighbors: int = Field(
        default=15, ge=2, description="UMAP: neighbours that define a query's neighbourhood."
    )
    umap_min_dist: float = Field(
        default=0.0, ge=0.0, le=1.0, description="UMAP: how tightly points may pack (0: densest)."
    )
    umap_sample: int = Field(
        default=50_000,
        ge=1_000,
        description="UMAP and the algorithm are fitted on a seeded sample of this many queries; "
        "the rest join by nearest centroid (KMeans) or their 10 nearest fitted queries (HDBSCAN).",
    )

    # Dimensions after each reduction when none are given (tuned on Banking77 and HWU64).
    default_dims: ClassVar[dict[str, int]] = {}

    @model_validator(mode="before")
    @classmethod
    def _dims_for_the_reduction(cls, data: Any) -> Any:
        """A run that names no ``reduce_dims`` gets its algorithm's default for its reduction,
        recorded as a number (so a later change of defaults cannot change the run)."""
        if isinstance(data, dict) and data.get("reduce_dims") is None:
            reduction = data.get("reduction") or cls.model_fields["reduction"].default
            if reduction in cls.default_dims:
                data = {**data, "reduce_dims": cls.default_dims[reduction]}
        return data


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
    reduction: Reduction = "umap"
    # UMAP output is coordinates, fitted by Euclidean k-means; PCA keeps today's spherical path.
    default_dims: ClassVar[dict[str, int]] = {"umap": 5, "pca": 128}

    @model_validator(mode="after")
    def _k_fits_the_sample(self) -> "KMeansParams":
        if self.reduction == "umap" and self.n_clusters > self.umap_sample:
            raise ValueError(
                f"--n-clusters {self.n_clusters} is more than the {self.umap_sample:,} queries "
                "UMAP is fitted on: raise --umap-sample."
            )
        return self


def default_min_cluster_size(queries: int) -> int:
    """The smallest HDBSCAN cluster when none is given: ``max(10, queries / 400)``.

    Measured on Banking77 (3,080 queries) and HWU64 (11,033) after UMAP: NMI 80.7 / 73.2 with
    7% / 14% noise (RESULTS.md). It grows with the run, so a million queries are not cut into
    thousands of 10-query clusters; capped at the number of queries for tiny runs.
    """
    return max(2, min(10, queries), round(queries / 400))


class HDBSCANParams(RunSettings):
    algorithm: Literal["hdbscan"] = "hdbscan"
    min_cluster_size: int | None = Field(
        default=None,
        ge=2,
        description="Smallest cluster, in queries of the whole run (default, set when the run "
        "is registered: max(10, queries / 400)).",
    )
    min_samples: int | None = Field(
        default=5,
        ge=1,
        description="HDBSCAN min_samples: how much density is smoothed (None: the min cluster "
        "size, the library's default; 5 kept HWU64's noise at 14% instead of 20%).",
    )
    backend: Literal["fast_hdbscan", "hdbscan"] = Field(
        default="fast_hdbscan", description="fast_hdbscan (default) or the hdbscan library."
    )
    max_fit_points: int | None = Field(
        default=200_000,
        ge=100,
        description="Fit on a sample this large; the rest join their nearest fitted point.",
    )
    assign_noise: bool = Field(default=False, description="Move noise to the nearest cluster.")
    reduction: Reduction = "umap"
    default_dims: ClassVar[dict[str, int]] = {"umap": 5, "pca": 10}


ClusteringParams = KMeansParams | HDBSCANParams

# Keys of runs registered before the parameters were split per algorithm.
_LEGACY_KEYS = {
    "kmeans": {"kmeans_reduce_dims": "reduce_dims"},
    "hdbscan": {"hdbscan_backend": "backend", "hdbscan_max_fit_points": "max_fit_points"},
}


# What a run registered before UMAP (issue 13) got for a field it did not record.
_DEFAULTS_BEFORE_UMAP = {
    "kmeans": {"reduction": "pca", "reduce_dims": 128},
    "hdbscan": {"reduction": "pca", "reduce_dims": 10, "min_samples": None},
}


def upgrade_stored(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored parameters in today's shape, so that old runs keep reproducing: keys of runs
    registered before the split per algorithm are renamed (the other algorithm's dropped), and
    a field a run registered before UMAP did not record takes the default of that time, not
    today's."""
    algorithm = stored.get("algorithm")
    if algorithm not in _LEGACY_KEYS or "umap_neighbors" in stored:
        return stored
    fields = dict(stored)
    if "reduction" not in stored:
        if algorithm == "kmeans":
            fields.pop("reduce_dims", None)
            dims = fields.pop("kmeans_reduce_dims", 128)
            fields["reduction"], fields["reduce_dims"] = ("pca", dims) if dims else ("none", 384)
        for old, new in _LEGACY_KEYS[algorithm].items():
            if old in fields:
                fields[new] = fields.pop(old)
    return {**_DEFAULTS_BEFORE_UMAP[algorithm], **fields}


def new_run_id(algorithm: str, size: int, existing: set[str], now: datetime | None = None) -> str:
    """``kmeans-<k>-<YYYYMMDD-HHMMSS>`` / ``hdbscan-<min size>-...``, suffixed ``-2``, ``-3``
    when another run already took that second."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = f"{algorithm}-{size}-{stamp}"
    candidate, suffix = base, 2
    while candidate in existing:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate
