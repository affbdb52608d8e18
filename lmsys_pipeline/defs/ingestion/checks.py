"""Checks on the ``queries`` table after each ingestion."""

import dagster as dg
from sqlalchemy import func, select

from lmsys_pipeline.db.models import Query
from lmsys_pipeline.defs.ingestion.assets import lmsys_queries
from lmsys_pipeline.defs.resources import DatabaseResource


@dg.asset_check(
    asset=lmsys_queries,
    blocking=True,
    description="Every stored query has non-blank text.",
)
def queries_have_text(database: DatabaseResource) -> dg.AssetCheckResult:
    with database.manager.engine.connect() as connection:
        bad = connection.execute(
            select(func.count())
            .select_from(Query)
            .where(func.length(func.trim(Query.query_text)) == 0)
        ).scalar_one()
    return dg.AssetCheckResult(passed=bad == 0, metadata={"bad_rows": bad})


@dg.asset_check(
    asset=lmsys_queries,
    description="The table is not empty after ingestion.",
)
def queries_table_not_empty(database: DatabaseResource) -> dg.AssetCheckResult:
    with database.manager.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Query)).scalar_one()
    return dg.AssetCheckResult(passed=total > 0, metadata={"total_queries": total})
