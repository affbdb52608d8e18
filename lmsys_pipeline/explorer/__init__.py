"""``lmsys serve``: a web explorer and JSON API over runs, trees, clusters, queries, search,
lineage, trends and curation."""
