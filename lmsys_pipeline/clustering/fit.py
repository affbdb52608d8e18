"""What every clustering algorithm returns, and the steps they share.

Cluster ids are renumbered by size (0 is the largest) so that runs read the same way; HDBSCAN
noise keeps ``-1``.
"""

from dataclasses import dataclass, field

import numpy as np

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.vectors import CHUNK_ROWS, row_norms


class ClusteringInputError(UserError, ValueError):
    """Data or settings that cannot be clustered, explained in one sentence."""


@dataclass
class ClusterFit:
    labels: np.ndarray
    confidence: np.ndarray
    centroids: np.ndarray
    phase_seconds: dict[str, float] = field(default_factory=dict)
    details: dict[str, float | int] = field(default_factory=dict)

    @property
    def num_clusters(self) -> int:
        return len(np.unique(self.labels[self.labels != NOISE]))


def _all_like_the_first(vectors: np.ndarray, atol: float = 1e-6) -> bool:
    """``np.allclose(vectors, vectors[0])`` chunk by chunk: over all rows at once it makes
    n x d temporaries (1.5 GB each at 1M x 384); varied data stops at the first chunk."""
    first = vectors[0]
    return all(
        np.allclose(vectors[start : start + CHUNK_ROWS], first, atol=atol)
        for start in range(0, len(vectors), CHUNK_ROWS)
    )


def check_finite(vectors: np.ndarray, query_ids: np.ndarray | None = None) -> None:
    """Refuses vectors with a NaN or an infinity, or too large to normalise: one such row
    turns PCA's output into NaN everywhere, and t-SNE on NaN crashes the whole process."""
    bad = np.flatnonzero(~np.isfinite(row_norms(vectors)[:, 0]))
    if len(bad):
        example = f"query id {query_ids[bad[0]]}" if query_ids is not None else f"row {bad[0]}"
        raise ClusteringInputError(
            f"{len(bad)} of the {len(vectors)} query vectors are not finite numbers (e.g. "
            f"{example}), so they cannot be clustered: delete those conversations with lmsys "
            "delete, then load and embed them again."
        )


def check_varied(vectors: np.ndarray) -> None:
    if len(vectors) == 0:
        raise ClusteringInputError(
            "There are no embedded queries to cluster: run lmsys load and lmsys embed first."
        )
    if _all_like_the_first(vectors):
        raise ClusteringInputError(
            "All query vectors are identical, so there is nothing to cluster: load more "
            "varied queries."
        )


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    real = labels[labels != NOISE]
    ids, counts = np.unique(real, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    mapping = np.full(int(labels.max()) + 1 if len(real) else 1, NOISE, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    renumbered = np.full(len(labels), NOISE, dtype=np.int64)
    renumbered[labels != NOISE] = mapping[real]
    return renumbered
