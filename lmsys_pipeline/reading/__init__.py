"""Reading results: runs, clusters with their summaries, facets, exports, the cluster map."""
