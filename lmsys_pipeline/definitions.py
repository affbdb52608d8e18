"""The Dagster definitions: every asset, check, job, schedule, sensor and resource.

Kept light on purpose: heavy libraries (torch, sentence-transformers, sklearn) are imported
inside the functions that use them, so every ``dagster`` command and step process starts fast.
"""

import dagster as dg

from lmsys_pipeline.defs.clustering.assets import cluster_run
from lmsys_pipeline.defs.clustering.schedules import cluster_run_job, recluster_schedule
from lmsys_pipeline.defs.embedding.assets import query_embeddings
from lmsys_pipeline.defs.embedding.checks import vectors_have_model_dimension_and_unit_length
from lmsys_pipeline.defs.embedding.shards import embed_backlog_job
from lmsys_pipeline.defs.ingestion.assets import lmsys_queries
from lmsys_pipeline.defs.ingestion.checks import queries_have_text, queries_table_not_empty
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.defs.summarizing.assets import cluster_summaries

defs = dg.Definitions(
    assets=[lmsys_queries, query_embeddings, cluster_run, cluster_summaries],
    asset_checks=[
        queries_have_text,
        queries_table_not_empty,
        vectors_have_model_dimension_and_unit_length,
    ],
    jobs=[cluster_run_job, embed_backlog_job],
    schedules=[recluster_schedule],
    resources={"database": DatabaseResource()},
    # Steps run in the run's own process: each step process would otherwise pay the imports of
    # torch and sentence-transformers again. Runs still go in parallel with each other.
    executor=dg.in_process_executor,
)
