"""Every code example of the seed's models document, with only the import prefix changed
(lmsys_query_analysis -> lmsys_pipeline), run against a real SQLite file and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from lmsys_pipeline.db.connection import DatabaseManager


def _seed_rows():
    from lmsys_pipeline.db.models import ClusteringRun, ClusterSummary, Query, QueryCluster

    query = Query(
        conversation_id="conv_12345",
        model="gpt-3.5-turbo",
        query_text="How do I center a div in CSS?",
        language="en",
    )

    run = ClusteringRun(
        run_id="kmeans-100-20251003-123456",
        algorithm="kmeans",
        num_clusters=100,
        parameters={"batch_size": 4096},
        description="Fine-grained clustering",
    )

    summary = ClusterSummary(
        run_id="kmeans-100-20251003-123456",
        cluster_id=5,
        summary_run_id="summary-claude-sonnet-4-5-2025-20251004-124530",
        alias="claude-v1",  # Friendly name for easy reference
        title="CSS Layout Questions",
        description="Queries about CSS positioning, flexbox, and grid layouts",
        num_queries=150,
        representative_queries=["How to center a div?", "Flexbox vs Grid?"],
        model="anthropic/claude-sonnet-4-5-20250929",
        parameters={"max_queries": 100, "concurrency": 12},
    )

    # The seed elides the remaining fields of these two with "..."; they are filled in here.
    gpt4_summary = ClusterSummary(
        run_id="kmeans-100-20251003-123456",
        cluster_id=5,
        summary_run_id="summary-gpt-4-20251004-124600",
        alias="gpt4-test",  # Easy to remember!
        model="openai/gpt-4",
        title="Centering and Layout in CSS",
        num_queries=150,
        generated_at=summary.generated_at + timedelta(minutes=1),
    )
    small_cluster = ClusterSummary(
        run_id="kmeans-100-20251003-123456",
        cluster_id=7,
        summary_run_id="summary-claude-sonnet-4-5-2025-20251004-124530",
        alias="claude-v1",
        title="Regex Help",
        num_queries=40,
    )
    return query, run, summary, gpt4_summary, small_cluster, QueryCluster


@pytest.fixture(params=["sqlite_file", "postgresql"])
def seeded_session(request, tmp_path: Path, monkeypatch):
    if request.param == "sqlite_file":
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        db = DatabaseManager("~/.lmsys-query-analysis/queries.db")
        assert (tmp_path / "home/.lmsys-query-analysis/queries.db").exists()
    else:
        db = request.getfixturevalue("postgres_db")
    query, run, summary, gpt4_summary, small_cluster, QueryCluster = _seed_rows()
    session = db.get_session()
    session.add_all([query, run])
    session.commit()

    assignment = QueryCluster(
        run_id="kmeans-100-20251003-123456", query_id=query.id, cluster_id=5, confidence_score=0.85
    )
    session.add_all([assignment, summary, gpt4_summary, small_cluster])
    session.commit()
    yield session, db
    session.close()


def test_creating_a_session_and_querying(seeded_session):
    session, _db = seeded_session
    # Query data
    from sqlmodel import select

    from lmsys_pipeline.db.models import Query

    statement = select(Query).limit(10)
    queries = session.exec(statement).all()

    assert [q.conversation_id for q in queries] == ["conv_12345"]
    assert queries[0].id is not None
    assert queries[0].created_at.tzinfo is not None
    assert queries[0].extra_metadata is None


def test_querying_clusters_as_the_seed_shows(seeded_session):
    session, _db = seeded_session
    from sqlmodel import select

    from lmsys_pipeline.db.models import ClusterSummary

    # Get all summaries for a specific summary run by alias (easiest!)
    statement = select(ClusterSummary).where(
        ClusterSummary.run_id == "kmeans-100-20251003-123456", ClusterSummary.alias == "claude-v1"
    )
    summaries = session.exec(statement).all()
    assert sorted(s.cluster_id for s in summaries) == [5, 7]

    # Or by summary_run_id
    statement = select(ClusterSummary).where(
        ClusterSummary.run_id == "kmeans-100-20251003-123456",
        ClusterSummary.summary_run_id == "summary-claude-sonnet-4-5-2025-20251004-124530",
    )
    summaries = session.exec(statement).all()
    assert {s.alias for s in summaries} == {"claude-v1"}
    assert len(summaries) == 2

    # Get latest summary run for a clustering run
    statement = (
        select(ClusterSummary)
        .where(ClusterSummary.run_id == "kmeans-100-20251003-123456")
        .order_by(ClusterSummary.generated_at.desc())
        .limit(1)
    )
    latest_summary = session.exec(statement).first()
    assert latest_summary.alias == "gpt4-test"

    # Get clusters sorted by size for a specific alias
    statement = (
        select(ClusterSummary)
        .where(
            ClusterSummary.run_id == "kmeans-100-20251003-123456",
            ClusterSummary.alias == "claude-v1",
        )
        .order_by(ClusterSummary.num_queries.desc())
    )
    top_clusters = session.exec(statement).all()
    assert [c.num_queries for c in top_clusters] == [150, 40]

    # Compare summaries from different models by alias
    claude_stmt = select(ClusterSummary).where(
        ClusterSummary.run_id == "kmeans-100-20251003-123456",
        ClusterSummary.cluster_id == 5,
        ClusterSummary.alias == "claude-v1",
    )
    gpt4_stmt = select(ClusterSummary).where(
        ClusterSummary.run_id == "kmeans-100-20251003-123456",
        ClusterSummary.cluster_id == 5,
        ClusterSummary.alias == "gpt4-test",
    )
    claude = session.exec(claude_stmt).one()
    gpt4 = session.exec(gpt4_stmt).one()
    assert (claude.title, gpt4.title) == ("CSS Layout Questions", "Centering and Layout in CSS")
    assert claude.model == "anthropic/claude-sonnet-4-5-20250929"
    assert claude.parameters == {"max_queries": 100, "concurrency": 12}
    assert claude.representative_queries == ["How to center a div?", "Flexbox vs Grid?"]
    assert claude.generated_at.tzinfo is not None


def test_all_summaries_for_a_run_sorted_by_size(seeded_session):
    """The older form of the seed's examples (no alias filter) still runs."""
    session, _db = seeded_session
    from sqlmodel import select

    from lmsys_pipeline.db.models import ClusterSummary

    statement = (
        select(ClusterSummary)
        .where(ClusterSummary.run_id == "kmeans-100-20251003-123456")
        .order_by(ClusterSummary.num_queries.desc())
    )
    top_clusters = session.exec(statement).all()
    assert [c.num_queries for c in top_clusters] == [150, 150, 40]


def test_assignment_and_run_round_trip(seeded_session):
    session, _db = seeded_session
    from sqlmodel import select

    from lmsys_pipeline.db.models import ClusteringRun, QueryCluster

    run = session.exec(select(ClusteringRun)).one()
    assert run.parameters == {"batch_size": 4096}
    assert run.num_clusters == 100
    assert run.created_at <= datetime.now(UTC)
    assignment = session.exec(select(QueryCluster)).one()
    assert (assignment.cluster_id, assignment.confidence_score) == (5, 0.85)


def test_schema_matches_the_seed(seeded_session):
    _session, db = seeded_session
    inspector = inspect(db.engine)
    expected = {
        "queries": {
            "id",
            "conversation_id",
            "model",
            "query_text",
            "language",
            "extra_metadata",
            "created_at",
        },
        "clustering_runs": {
            "run_id",
            "algorithm",
            "num_clusters",
            "parameters",
            "description",
            "created_at",
        },
        "query_clusters": {"id", "run_id", "query_id", "cluster_id", "confidence_score"},
        "cluster_summaries": {
            "id",
            "run_id",
            "cluster_id",
            "summary_run_id",
            "alias",
            "title",
            "description",
            "summary",
            "num_queries",
            "representative_queries",
            "model",
            "parameters",
            "generated_at",
        },
    }
    for table, columns in expected.items():
        found = {c["name"]: c for c in inspector.get_columns(table)}
        assert set(found) == columns, table
    nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("queries")}
    assert nullable["language"] and nullable["extra_metadata"]
    assert not nullable["conversation_id"] and not nullable["query_text"]
    summary_columns = inspector.get_columns("cluster_summaries")
    summary_nullable = {c["name"]: c["nullable"] for c in summary_columns}
    assert not summary_nullable["num_queries"] and not summary_nullable["summary_run_id"]
    assert all(
        summary_nullable[name]
        for name in (
            "alias",
            "title",
            "description",
            "summary",
            "representative_queries",
            "model",
            "parameters",
        )
    )
    foreign = {
        (fk["referred_table"], tuple(fk["constrained_columns"]))
        for fk in inspector.get_foreign_keys("query_clusters")
    }
    assert foreign == {("clustering_runs", ("run_id",)), ("queries", ("query_id",))}
    summary_fks = {fk["referred_table"] for fk in inspector.get_foreign_keys("cluster_summaries")}
    assert summary_fks == {"clustering_runs"}
    indexed = {tuple(index["column_names"]) for index in inspector.get_indexes("cluster_summaries")}
    for columns in [
        ("summary_run_id",),
        ("alias",),
        ("num_queries",),
        ("generated_at",),
        ("cluster_id",),
    ]:
        assert columns in indexed, columns
    query_indexes = {
        tuple(i["column_names"]): i["unique"] for i in inspector.get_indexes("queries")
    }
    assert query_indexes[("conversation_id",)]
