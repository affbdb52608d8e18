"""``lmsys export RUN_ID --format duckdb``: one DuckDB file for analysts who want SQL.

Tables: ``queries`` (the run's queries: id, conversation_id, model, language, query_text,
created_at, extra_metadata as JSON text), ``assignments`` (query_id, cluster_id, confidence
and, for queries assigned after the fit, their cosine and novel flag), ``summaries`` (every
summary run of the run: cluster titles and descriptions with alias and summary_run_id),
``hierarchy`` (every hierarchy run's nodes) and ``lineage`` (relations from and to the run).
Read from the database in chunks through Arrow; written through ``output_file.replacing``, so
an interrupted export leaves no half file (nor DuckDB's ``.wal``).
"""

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select

from lmsys_pipeline.db.assigned import AssignedAfterFit
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.hierarchy import ClusterHierarchy
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.outputs.output_file import replacing

CHUNK = 50_000


def _statements(run_id: str) -> dict:
    return {
        "queries": select(
            Query.id,
            Query.conversation_id,
            Query.model,
            Query.language,
            Query.query_text,
            Query.created_at,
            Query.extra_metadata,
        )
        .join(QueryCluster, QueryCluster.query_id == Query.id)
        .where(QueryCluster.run_id == run_id)
        .order_by(Query.id),
        "assignments": select(
            QueryCluster.query_id,
            QueryCluster.cluster_id,
            QueryCluster.confidence_score.label("confidence"),
            AssignedAfterFit.cosine.label("assigned_after_fit_cosine"),
            AssignedAfterFit.novel,
        )
        .outerjoin(
            AssignedAfterFit,
            (AssignedAfterFit.run_id == QueryCluster.run_id)
            & (AssignedAfterFit.query_id == QueryCluster.query_id),
        )
        .where(QueryCluster.run_id == run_id)
        .order_by(QueryCluster.query_id),
        "summaries": select(
            ClusterSummary.summary_run_id,
            ClusterSummary.alias,
            ClusterSummary.cluster_id,
            ClusterSummary.title,
            ClusterSummary.description,
            ClusterSummary.num_queries,
            ClusterSummary.model,
            ClusterSummary.generated_at,
        ).where(ClusterSummary.run_id == run_id),
        "hierarchy": select(
            ClusterHierarchy.hierarchy_run_id,
            ClusterHierarchy.cluster_id,
            ClusterHierarchy.parent_cluster_id,
            ClusterHierarchy.level,
            ClusterHierarchy.title,
            ClusterHierarchy.description,
        ).where(ClusterHierarchy.run_id == run_id),
        "lineage": select(
            ClusterLineage.from_run_id,
            ClusterLineage.from_cluster_id,
            ClusterLineage.to_run_id,
            ClusterLineage.to_cluster_id,
            ClusterLineage.kind,
            ClusterLineage.overlap,
            ClusterLineage.cosine,
            ClusterLineage.shared_queries,
            ClusterLineage.from_size,
            ClusterLineage.to_size,
        ).where(or_(ClusterLineage.to_run_id == run_id, ClusterLineage.from_run_id == run_id)),
    }


def _arrow_type(column):
    """The Arrow type of a selected column, so that chunks of nulls keep their type."""
    import pyarrow as pa

    try:
        python_type = getattr(column.type, "impl", column.type).python_type
    except NotImplementedError:
        python_type = str
    return {
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: pa.timestamp("us", tz="UTC"),
    }.get(python_type, pa.string())


def _arrow(statement, rows: list):
    import pyarrow as pa

    columns = list(statement.selected_columns)
    values = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in columns]
    arrays = {}
    for column, data in zip(columns, values, strict=True):
        if column.name == "extra_metadata":
            data = [None if v is None else json.dumps(v, ensure_ascii=False) for v in data]
        arrays[column.name] = pa.array(data, _arrow_type(column))
    return pa.table(arrays)


def export_duckdb(db: DatabaseManager, run_id: str, path: Path) -> dict[str, int]:
    """Writes the run's tables to a new DuckDB file at ``path``; rows per table."""
    import duckdb

    written: dict[str, int] = {}
    with (
        replacing(path) as new,
        duckdb.connect(str(new)) as target,
        db.engine.connect() as source,
    ):
        for table, statement in _statements(run_id).items():
            result = source.execution_options(yield_per=CHUNK).execute(statement)
            written[table] = 0
            for chunk in result.partitions():
                target.register("chunk", _arrow(statement, chunk))
                if written[table]:
                    target.execute(f"INSERT INTO {table} SELECT * FROM chunk")
                else:
                    target.execute(f"CREATE TABLE {table} AS SELECT * FROM chunk")
                target.unregister("chunk")
                written[table] += len(chunk)
            if not written[table]:
                target.register("chunk", _arrow(statement, []))
                target.execute(f"CREATE TABLE {table} AS SELECT * FROM chunk")
                target.unregister("chunk")
    return written
