"""What defines a clustering run: everything needed to reproduce its assignments.

The parameters are validated before any row is written and stored whole in
``ClusteringRun.parameters``; materializing the run reads them back, so re-materializing the
same ``run_id`` gives the same assignments.
"""

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ClusteringParams(BaseModel, extra="forbid"):
    algorithm: Literal["kmeans", "hdbscan"]
    n_clusters: int | None = Field(default=None, description="KMeans: k.")
    n_init: int = Field(default=10, ge=1, description="KMeans: initialisations, best kept.")
    max_iter: int = Field(default=25, ge=1, description="KMeans: iterations per init.")
    train_points_per_centroid: int = Field(
        default=256, ge=1, description="KMeans: initialisations fit on up to this many x k."
    )
    refine_iter: int = Field(
        default=10, ge=0, description="KMeans: iterations on all vectors after that."
    )
    min_cluster_size: int | None = Field(default=None, description="HDBSCAN.")
    min_samples: int | None = Field(default=None, ge=1, description="HDBSCAN.")
    kmeans_reduce_dims: int | None = Field(
        default=128, ge=2, description="KMeans: PCA dimensions first (None: raw vectors)."
    )
    reduce_dims: int = Field(default=10, ge=2, description="HDBSCAN: PCA dimensions first.")
    hdbscan_backend: Literal["fast_hdbscan", "hdbscan"] = "fast_hdbscan"
    hdbscan_max_fit_points: int | None = Field(
        default=200_000,
        ge=100,
        description="HDBSCAN: fit on a sample this large; the rest join their nearest point.",
    )
    assign_noise: bool = Field(
        default=False, description="HDBSCAN: move noise to the nearest cluster."
    )
    seed: int = 42
    embedding_model: str = DEFAULT_MODEL
    limit: int | None = Field(
        default=None, ge=1, description="Cluster only the first N embedded queries by id."
    )

    @model_validator(mode="after")
    def _check_algorithm_settings(self) -> "ClusteringParams":
        if self.algorithm == "kmeans":
            if self.n_clusters is None or self.n_clusters < 1:
                raise ValueError("KMeans needs --n-clusters of at least 1.")
        elif self.min_cluster_size is None or self.min_cluster_size < 2:
            raise ValueError("HDBSCAN needs --min-cluster-size of at least 2.")
        return self

    @property
    def key_number(self) -> int:
        return int(self.n_clusters if self.algorithm == "kmeans" else self.min_cluster_size)


def new_run_id(params: ClusteringParams, existing: set[str], now: datetime | None = None) -> str:
    """``kmeans-<k>-<YYYYMMDD-HHMMSS>`` / ``hdbscan-<min size>-...``, suffixed ``-2``, ``-3``
    when another run already took that second."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = f"{params.algorithm}-{params.key_number}-{stamp}"
    candidate, suffix = base, 2
    while candidate in existing:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate
