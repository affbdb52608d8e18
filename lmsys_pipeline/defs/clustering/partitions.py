"""The dynamic partition set of clustering runs, keyed by ``run_id``."""

import dagster as dg

CLUSTERING_RUNS = "clustering_runs"
clustering_run_partitions = dg.DynamicPartitionsDefinition(name=CLUSTERING_RUNS)
