"""Summary runs are partitioned by clustering run x alias.

Dimension names sort ``alias`` before ``clustering_run``, so a key reads ``<alias>|<run_id>``;
neither part may hold ``|`` (aliases and run ids are checked against a safe pattern).

Dagster tags every run of a multi-partition with ``dagster/partition/<dimension>`` and then warns
that its own key is non-compliant (only ``dagster/kind/`` may nest); no dimension name avoids it,
so renaming would only orphan the stored partitions. The filter below silences exactly that
warning; ``test_partitions.py`` fails once Dagster stops giving it, so the filter can go.
"""

import warnings

import dagster as dg

from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS, clustering_run_partitions

DAGSTER_OWN_TAG_WARNING = r"Non-compliant tag keys like \['dagster/partition/"
warnings.filterwarnings("ignore", message=DAGSTER_OWN_TAG_WARNING, category=DeprecationWarning)

SUMMARY_ALIASES = "summary_aliases"
ALIAS_DIMENSION = "alias"
RUN_DIMENSION = "clustering_run"

summary_alias_partitions = dg.DynamicPartitionsDefinition(name=SUMMARY_ALIASES)
summary_partitions = dg.MultiPartitionsDefinition(
    {RUN_DIMENSION: clustering_run_partitions, ALIAS_DIMENSION: summary_alias_partitions}
)


def summary_partition_key(run_id: str, alias: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({RUN_DIMENSION: run_id, ALIAS_DIMENSION: alias})


def add_summary_partitions(instance: dg.DagsterInstance, run_id: str, alias: str) -> None:
    """Adds the run and the alias to their dynamic partition sets (once)."""
    for partitions, key in ((CLUSTERING_RUNS, run_id), (SUMMARY_ALIASES, alias)):
        if not instance.has_dynamic_partition(partitions, key):
            instance.add_dynamic_partitions(partitions, [key])
