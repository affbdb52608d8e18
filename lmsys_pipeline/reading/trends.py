"""``lmsys trends``: queries per cluster and period, and the change, computed in DuckDB.

Each query's time is the conversation's own (``extra_metadata.timestamp``, kept at ingestion
when the source has one, UTC) or else when it was loaded (``created_at``). The run's
assignments and those times are read in chunks into one Arrow table and grouped by DuckDB
(``date_trunc`` by day, week — weeks start on Monday — or month). A cluster's change is its
count in the last period against the one before.

Times outside the plausible window — before 2000-01-01 or later than a day from now (the
window ``ingestion/parsing.py`` also applies at load) — are set aside and counted, with the
queries whose own time was set aside at load (``extra_metadata.timestamp_set_aside``): the
time they were loaded is not when they arrived, and a year-9999 sentinel must not become the
last period.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import String, cast, func, select, type_coerce

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.ingestion.parsing import EARLIEST, SET_ASIDE, latest_plausible
from lmsys_pipeline.reading.choice import SummaryChoice, require_run
from lmsys_pipeline.reading.clusters import summaries

PERIODS = ("day", "week", "month")
CHUNK = 100_000


@dataclass
class ClusterTrend:
    cluster_id: int
    title: str | None
    counts: list[int]
    total: int
    last: int
    previous: int

    @property
    def change(self) -> int:
        return self.last - self.previous

    def as_dict(self) -> dict:
        return {**asdict(self), "change": self.change}


@dataclass
class TrendReport:
    run_id: str
    by: str
    periods: list[str]
    clusters: list[ClusterTrend] = field(default_factory=list)
    summary_run_id: str | None = None
    set_aside: int = 0  # queries with no plausible time, in no period
    window: tuple[str, str] = ("", "")  # the plausible times (naive UTC ISO), both included

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "by": self.by,
            "periods": self.periods,
            "summary_run_id": self.summary_run_id,
            "set_aside": self.set_aside,
            "window": list(self.window),
            "clusters": [c.as_dict() for c in self.clusters],
        }


def times_table(db: DatabaseManager, run_id: str, cluster_id: int | None = None):
    """The run's assignments (only ``cluster_id``'s when given) with each query's times, as
    one Arrow table: cluster_id, created_at (naive UTC, as text), own (the source's
    timestamp, as text) and aside (non-zero when the source's time was set aside at load);
    DuckDB parses the times a column at a time. SQLite's stored text is read as it is;
    PostgreSQL's rows come through ``COPY ... TO STDOUT`` as CSV parsed by Arrow: 2.5 s
    instead of 5.7 s for 1.2M rows through SQLAlchemy rows (benchmarks/keeping_current.py)."""
    import pyarrow as pa

    own = Query.extra_metadata["timestamp"].as_string()
    postgresql = db.engine.dialect.name == "postgresql"
    # where the key starts in the JSON text (0: absent); a second ->> would parse every
    # row's JSON again on PostgreSQL (+0.5 s per million rows), strpos costs 0.08 s
    position = func.strpos if postgresql else func.instr
    aside = position(cast(Query.extra_metadata, String), f'"{SET_ASIDE}"')
    # naive UTC text: SQLite stores it so; PostgreSQL's timezone('UTC', ...) gives it (COPY
    # writes it as text)
    created = (
        func.timezone("UTC", Query.created_at)
        if postgresql
        else type_coerce(Query.created_at, String)
    )
    statement = (
        select(QueryCluster.cluster_id, created, own, aside)
        .join(Query, Query.id == QueryCluster.query_id)
        .where(QueryCluster.run_id == run_id)
    )
    if cluster_id is not None:
        statement = statement.where(QueryCluster.cluster_id == cluster_id)
    schema = pa.schema(
        [
            ("cluster_id", pa.int64()),
            ("created_at", pa.string()),
            ("own", pa.string()),
            ("aside", pa.int64()),
        ]
    )
    if postgresql:
        return _copied(db, statement, schema)
    parts = []
    with db.engine.connect() as connection:
        result = connection.execution_options(yield_per=CHUNK).execute(statement)
        for chunk in result.partitions():
            columns = zip(*chunk, strict=True)
            arrays = [pa.array(values, f.type) for values, f in zip(columns, schema, strict=True)]
            parts.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _copied(db: DatabaseManager, statement, schema):
    """The statement's rows through PostgreSQL's COPY as CSV (parameters bound by psycopg),
    parsed by Arrow in one call."""
    import io

    import pyarrow.csv as csv

    compiled = statement.compile(dialect=db.engine.dialect)
    buffer = io.BytesIO()
    raw = db.engine.raw_connection()
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy,
        ):
            for block in copy:
                buffer.write(block)
        raw.commit()
    finally:
        raw.close()
    buffer.seek(0)
    return csv.read_csv(
        buffer,
        read_options=csv.ReadOptions(column_names=[f.name for f in schema]),
        convert_options=csv.ConvertOptions(
            column_types={f.name: f.type for f in schema}, strings_can_be_null=True
        ),
    )


def period_counts(
    table, by: str, window: tuple[datetime, datetime] | None = None
) -> tuple[list[str], dict[int, list[int]], int]:
    """Periods (ISO dates of their start, oldest first), each cluster's count per period, and
    how many queries were set aside (no plausible time within ``window``, by default from
    2000-01-01 to a day from now)."""
    import duckdb

    window = window or (EARLIEST, latest_plausible())
    if by not in PERIODS:
        raise UserError(f"--by must be one of {', '.join(PERIODS)}, not {by!r}.")
    with duckdb.connect() as connection:
        connection.register("times", table)
        rows = connection.execute(
            f"""
            WITH timed AS (
                SELECT cluster_id, aside,
                       coalesce(try_cast(own AS TIMESTAMP),
                                try_cast(created_at AS TIMESTAMP)) AS arrived
                FROM times
            )
            SELECT cluster_id,
                   CASE WHEN aside = 0 AND arrived BETWEEN $earliest AND $latest
                        THEN date_trunc('{by}', arrived) END AS period,
                   count(*) AS n
            FROM timed GROUP BY ALL ORDER BY period, cluster_id
            """,
            {"earliest": window[0], "latest": window[1]},
        ).fetchall()
    set_aside = sum(int(n) for _, period, n in rows if period is None)
    rows = [row for row in rows if row[1] is not None]
    periods = sorted({str(period)[:10] for _, period, _ in rows})
    index = {p: i for i, p in enumerate(periods)}
    counts: dict[int, list[int]] = {}
    for cluster, period, n in rows:
        counts.setdefault(int(cluster), [0] * len(periods))[index[str(period)[:10]]] = int(n)
    return periods, counts, set_aside


def trends(
    db: DatabaseManager,
    run_id: str,
    choice: SummaryChoice | None,
    *,
    by: str = "week",
    top: int | None = None,
) -> TrendReport:
    """Per cluster, queries per period and the last period's change; fastest growing first
    (then the largest), the ``top`` first only when given."""
    require_run(db, run_id)
    window = (EARLIEST, latest_plausible())
    periods, counts, set_aside = period_counts(times_table(db, run_id), by, window)
    titles = {c: t for c, (t, _) in summaries(db, choice, run_id).items()}
    clusters = [
        ClusterTrend(
            cluster,
            titles.get(cluster),
            values,
            int(np.sum(values)),
            values[-1],
            values[-2] if len(values) > 1 else 0,
        )
        for cluster, values in counts.items()
    ]
    clusters.sort(key=lambda c: (-c.change, -c.total, c.cluster_id))
    return TrendReport(
        run_id,
        by,
        periods,
        clusters[:top] if top else clusters,
        choice.summary_run_id if choice else None,
        set_aside,
        (window[0].isoformat(timespec="seconds"), window[1].isoformat(timespec="seconds")),
    )
