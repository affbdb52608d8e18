"""A clustering run registered and its partition added: what the CLI, the ``cluster_run``
asset and ``recluster_schedule`` all call before a run is materialized."""

import dagster as dg

from lmsys_pipeline.clustering.params import ClusteringParams
from lmsys_pipeline.clustering.runs import prepare_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS


def prepare_clustering_run(
    db: DatabaseManager,
    instance: dg.DagsterInstance,
    *,
    run_id: str | None = None,
    params: ClusteringParams | None = None,
    description: str | None = None,
) -> ClusteringRun:
    run = prepare_run(db, run_id=run_id, params=params, description=description)
    if not instance.has_dynamic_partition(CLUSTERING_RUNS, run.run_id):
        instance.add_dynamic_partitions(CLUSTERING_RUNS, [run.run_id])
    return run
