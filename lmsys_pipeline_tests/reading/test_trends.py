"""``lmsys trends`` on fixed timestamps, against a hand count, on both databases; and the
DuckDB export."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import bundled_sample_path, open_source
from lmsys_pipeline.reading.trends import trends

runner = CliRunner()
MONDAY = datetime(2024, 1, 1, 9, 30)  # a Monday
STAMPED, UNSTAMPED = 42, 6
# when the unstamped queries arrived (UTC), on the edges of days, weeks and a month
ARRIVED = [
    datetime(2024, 1, 7, 23, 59, 59, 500_000),
    datetime(2024, 1, 8, 0, 0),
    datetime(2024, 1, 22, 10, 0),
    datetime(2024, 1, 31, 23, 30),
    datetime(2024, 2, 1, 0, 30),
    datetime(2024, 1, 3, 12, 0),
]


def _texts(count: int) -> list[str]:
    table = pq.read_table(bundled_sample_path(), columns=["conversation"]).slice(0, count)
    return [conversation[0]["content"] for conversation in table.column(0).to_pylist()]


def _source(path, rows: list[dict]) -> str:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def stamped(request, built_once, minilm, tmp_path):
    """42 queries with their own timestamps over three weeks and 6 without, which arrived at
    the ``ARRIVED`` times, in a KMeans run (k = 3); returns the database, the run and each
    conversation's expected time. Built once per session and database, a private copy."""
    with built_once.on_param(
        request, "stamped", lambda db, folder: _stamp(db, minilm, folder), tmp_path
    ) as (db, (run_id, expected)):
        yield db, run_id, expected


def _stamp(db, minilm, folder) -> tuple[str, dict]:
    """Builds what ``stamped`` copies: (the run, each conversation's expected time)."""
    texts = _texts(STAMPED + UNSTAMPED)
    expected = {}
    rows = []
    for i in range(STAMPED):
        at = MONDAY + timedelta(days=(i * 5) % 21, hours=i % 7)
        rows.append(
            {
                "conversation_id": f"t-{i:02d}",
                "conversation": [{"role": "user", "content": texts[i]}],
                "timestamp": at,
            }
        )
        expected[f"t-{i:02d}"] = at
    ingest_batches(db, open_source(_source(folder / "stamped.parquet", rows)).batches(100))
    plain = [
        {"conversation_id": f"p-{i}", "conversation": [{"role": "user", "content": t}]}
        for i, t in enumerate(texts[STAMPED:])
    ]
    ingest_batches(db, open_source(_source(folder / "plain.parquet", plain)).batches(100))
    with db.engine.begin() as connection:
        for i, at in enumerate(ARRIVED):
            connection.execute(
                update(Query)
                .where(Query.conversation_id == f"p-{i}")
                .values(created_at=at.replace(tzinfo=UTC))
            )
            expected[f"p-{i}"] = at
    embed_pending(db, minilm)
    run = register_run(db, KMeansParams(n_clusters=3))
    materialize_run(db, run.run_id)
    return run.run_id, expected


def _hand_count(db, run_id, expected, start_of) -> Counter:
    with db.engine.connect() as connection:
        pairs = connection.execute(
            select(Query.conversation_id, QueryCluster.cluster_id)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run_id)
        ).all()
    return Counter((cluster, start_of(expected[c]).isoformat()[:10]) for c, cluster in pairs)


def test_trends_by_week_day_and_month_match_a_hand_count(stamped):
    db, run_id, expected = stamped
    starts = {
        "week": lambda t: (t - timedelta(days=t.weekday())).date(),
        "day": lambda t: t.date(),
        "month": lambda t: t.date().replace(day=1),
    }
    for by, start_of in starts.items():
        report = trends(db, run_id, None, by=by)
        counted = Counter(
            {
                (c.cluster_id, period): n
                for c in report.clusters
                for period, n in zip(report.periods, c.counts, strict=True)
                if n
            }
        )
        assert counted == _hand_count(db, run_id, expected, start_of), by
    weekly = trends(db, run_id, None, by="week")
    assert weekly.periods[:3] == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert weekly.periods[3:] == ["2024-01-22", "2024-01-29"]  # two unstamped arrivals
    assert sum(c.total for c in weekly.clusters) == STAMPED + UNSTAMPED
    changes = [c.change for c in weekly.clusters]
    assert changes == sorted(changes, reverse=True)
    assert all(c.change == c.counts[-1] - c.counts[-2] for c in weekly.clusters)
    with pytest.raises(UserError, match="--by must be one of day, week, month"):
        trends(db, run_id, None, by="year")


def test_lmsys_trends_json_and_table(stamped, monkeypatch):
    db, run_id, _ = stamped
    url = str(db.engine.url.render_as_string(hide_password=False))
    result = runner.invoke(app, ["trends", run_id, "--db-url", url, "--by", "week", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["by"] == "week" and len(payload["clusters"]) == 3
    top = runner.invoke(app, ["trends", run_id, "--db-url", url, "--top", "1"])
    assert top.exit_code == 0 and "queries per week" in top.output


def test_export_duckdb_holds_the_run_tables(results, tmp_path):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    out = tmp_path / "run.duckdb"
    result = runner.invoke(
        app, ["export", run_id, "--format", "duckdb", "-o", str(out), "--db-url", url, "--json"]
    )
    assert result.exit_code == 0, result.output
    tables = json.loads(result.output)["tables"]
    with db.engine.connect() as connection:
        assigned = connection.execute(
            select(func.count()).where(QueryCluster.run_id == run_id)
        ).scalar_one()
        labelled = connection.execute(
            select(func.count()).where(ClusterSummary.run_id == run_id)
        ).scalar_one()
        first = connection.execute(select(Query.id, Query.query_text).order_by(Query.id)).first()
    assert tables == {
        "queries": assigned,
        "assignments": assigned,
        "summaries": labelled,
        "hierarchy": 0,
        "lineage": 0,
    }
    with duckdb.connect(str(out), read_only=True) as connection:
        assert connection.execute(
            "SELECT query_text FROM queries WHERE id = ?", [first[0]]
        ).fetchone() == (first[1],)
        joined = connection.execute(
            "SELECT count(*) FROM assignments a JOIN summaries s USING (cluster_id) "
            "WHERE s.alias = 'kw'"
        ).fetchone()[0]
        assert joined == assigned
    assert not list(tmp_path.glob(".*partial"))


def test_export_duckdb_on_both_databases_keeps_the_conversation_time(stamped, tmp_path):
    from lmsys_pipeline.outputs.export_duckdb import export_duckdb

    db, run_id, expected = stamped
    out = tmp_path / "stamped.duckdb"
    tables = export_duckdb(db, run_id, out)
    assert tables["queries"] == tables["assignments"] == STAMPED + UNSTAMPED
    with duckdb.connect(str(out), read_only=True) as connection:
        stamps = dict(
            connection.execute(
                "SELECT conversation_id, json_extract_string(extra_metadata, '$.timestamp') "
                "FROM queries"
            ).fetchall()
        )
        types = {row[0]: row[1] for row in connection.execute("DESCRIBE assignments").fetchall()}
    assert stamps["t-00"] == expected["t-00"].isoformat() and stamps["p-0"] is None
    assert types["cluster_id"] == "BIGINT" and types["novel"] == "BOOLEAN"
