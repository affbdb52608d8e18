"""``new_query_assignments``: after each embedding materialization, the embedded queries
newer than the latest run's snapshot join its nearest cluster (``clustering/late.py``)."""

import dagster as dg

from lmsys_pipeline.clustering.late import assign_new_queries
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.defs.resources import DB_WRITER_POOL, DatabaseResource


@dg.asset(
    deps=["query_embeddings"],
    group_name="clustering",
    kinds={"python"},
    pool=DB_WRITER_POOL,
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Embedded queries newer than the latest clustering run's snapshot, assigned to its "
        "nearest cluster (query_clusters rows marked in assigned_after_fit), the ones far "
        "from every centroid flagged novel."
    ),
)
def new_query_assignments(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    with user_failures():
        status = assign_new_queries(database.manager)
    context.log.info(f"{status.run_id}: {status.as_dict()}")
    return dg.MaterializeResult(
        metadata={k: v for k, v in status.as_dict().items() if v is not None}
    )
