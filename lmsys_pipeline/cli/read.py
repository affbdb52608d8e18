"""Commands that read results: runs, clusters, summaries, exports and the cluster map."""
