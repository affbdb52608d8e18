"""Queries over the stored results that the stages and the read commands share: which run and
summary run, clusters with their titles, central queries, facets, runs, status, trends."""
