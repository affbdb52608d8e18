"""Parameters as older versions of the pipeline recorded them in ClusteringRun.parameters."""


def kmeans_before_umap(**overrides) -> dict:
    """What issue 11's KMeans runs stored (the defaults of that time, no UMAP fields)."""
    return {
        "seed": 42,
        "embedding_model": "all-MiniLM-L6-v2",
        "limit": None,
        "reduction": "pca",
        "reduce_dims": 128,
        "algorithm": "kmeans",
        "n_clusters": 12,
        "n_init": 10,
        "max_iter": 25,
        "train_points_per_centroid": 256,
        "refine_iter": 10,
        "max_query_id": 600,
    } | overrides
