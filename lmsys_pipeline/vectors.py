"""Vector arithmetic shared by every stage: unit rows, cluster centroids, cosines to them.

Labels below zero (HDBSCAN noise, ``-1``) belong to no cluster: they get no centroid and take
no part in any centroid.
"""

import numpy as np

CHUNK_ROWS = 100_000


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """The length of each row, as a column; in chunks, since ``np.linalg.norm`` over all rows
    squares a full copy first (1.5 GB at 1M x 384)."""
    norms = np.empty((len(vectors), 1), dtype=vectors.dtype)
    for start in range(0, len(vectors), CHUNK_ROWS):
        chunk = vectors[start : start + CHUNK_ROWS]
        norms[start : start + CHUNK_ROWS] = np.linalg.norm(chunk, axis=1, keepdims=True)
    return norms


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length; vectors that already are (stored embeddings) are not
    copied, which saves 1.5 GB at 1M x 384."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = row_norms(vectors)
    if len(vectors) and np.allclose(norms, 1.0, atol=1e-4):
        return vectors
    return vectors / np.maximum(norms, 1e-12)


def centroids(
    vectors: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """The unit mean vector of each cluster: row ``c`` for cluster ``c`` (zeros for an id with
    no member). Member ``i`` is ``vectors[rows[i]]`` when ``rows`` is given (many queries share
    one stored vector), else ``vectors[i]``. Summed through a sparse cluster x row matrix, so
    no per-member copy of the vectors is made."""
    from scipy.sparse import csr_matrix

    members = np.flatnonzero(labels >= 0)
    count = int(labels[members].max()) + 1 if len(members) else 0
    if not count:
        return np.zeros((0, vectors.shape[1]), dtype=np.float32)
    columns = members if rows is None else rows[members]
    membership = csr_matrix(
        (np.ones(len(members), dtype=np.float32), (labels[members], columns)),
        shape=(count, len(vectors)),
    )
    sums = np.asarray(membership @ vectors, dtype=np.float64)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def cosine_to_own_centroid(
    vectors: np.ndarray,
    centres: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Cosine of each member to its own cluster's centroid (0 for labels below zero), in
    chunks so that no n x d temporary is made."""
    out = np.zeros(len(labels), dtype=np.float32)
    for start in range(0, len(labels), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        chunk = labels[start:stop]
        members = vectors[start:stop] if rows is None else vectors[rows[start:stop]]
        dots = np.einsum("ij,ij->i", members, centres[np.maximum(chunk, 0)]) if len(centres) else 0
        out[start:stop] = np.where(chunk >= 0, dots, 0.0)
    return out


def nearest_centroid(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each row's most similar centroid (unit vectors: highest cosine)."""
    nearest = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), CHUNK_ROWS):
        nearest[start : start + CHUNK_ROWS] = np.argmax(
            vectors[start : start + CHUNK_ROWS] @ centres.T, axis=1
        )
    return nearest
