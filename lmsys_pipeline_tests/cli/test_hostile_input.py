"""Quotes, semicolons and SQL wildcards through every CLI filter, on both databases: each is
a bound parameter, so nothing is injected and '%' matches only a literal '%'."""

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.models import ClusteringRun, ClusterSummary, Query, QueryCluster
from lmsys_pipeline_tests.support.pipeline_data import results_once

HOSTILE = ["x'); DROP TABLE queries; --", "%", "_", '" OR 1=1 --', "a%' OR '1'='1", "\\"]
runner = CliRunner()


def counts(db) -> tuple[int, ...]:
    with db.engine.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (Query, QueryCluster, ClusteringRun, ClusterSummary)
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def two_clusters(request, built_once, minilm, tmp_path):
    """40 sample queries in a KMeans run of 2 clusters, a private copy on either database."""
    with results_once(request, built_once, minilm, tmp_path, queries=40, k=2) as (db, runs):
        yield db, runs[0]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_filters_are_data_not_sql(two_clusters, tmp_path, hostile, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db, run_id = two_clusters
    url = db.engine.url.render_as_string(hide_password=False)
    before = counts(db)

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--db-url", url])
        return result.exit_code, result.output

    code, out = cli("search", "card", "--language", hostile, "--json")
    assert code == 0 and json.loads(out) == []
    code, out = cli("search", "card", "--llm-model", hostile, "--json")
    assert code == 0 and json.loads(out) == []
    assert cli("search", "card", "--run-id", hostile)[0] == 1
    for args in (
        ("list-clusters", hostile),
        ("inspect", hostile, "0"),
        ("list-clusters", run_id, "--alias", hostile),
        ("list-clusters", run_id, "--summary-run-id", hostile),
        ("export", run_id, "--format", "csv", "-o", str(tmp_path / "o.csv"), "--alias", hostile),
        ("compare", run_id, "--alias", "kw", "--alias", hostile),
        ("summarize", hostile),
        ("summarize", run_id, "--alias", hostile),
        ("map", hostile, "-o", str(tmp_path / "m.html")),
    ):
        code, out = cli(*args)
        assert code == 1 and out.startswith("Error: "), (args, out)
    code, out = cli("delete", "--conversation-id", hostile, "--json")
    assert code == 0 and json.loads(out)["not_found"] == [hostile.strip()]
    assert counts(db) == before
