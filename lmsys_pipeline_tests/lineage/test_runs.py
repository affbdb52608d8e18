"""Lineage between two real runs made by the pipeline (see conftest.py), on both databases:
most clusters continue, the planted topic is new, rows replace, and ``lmsys diff`` says so."""

import json

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.console import console
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.lineage.runs import (
    LineageInputError,
    compute_lineage,
    previous_run,
    write_lineage,
)
from lmsys_pipeline_tests.support.pipeline_data import PLANTED, PLANTED_PREFIX, K, summarize

runner = CliRunner()


def planted_home(db, run_id: str) -> tuple[int, float]:
    """The cluster of ``run_id`` holding most planted queries, and the share it holds."""
    with db.engine.connect() as connection:
        labels = connection.execute(
            select(QueryCluster.cluster_id)
            .join(Query, Query.id == QueryCluster.query_id)
            .where(QueryCluster.run_id == run_id, Query.conversation_id.like(f"{PLANTED_PREFIX}%"))
        ).scalars()
        ids, counts = np.unique(np.fromiter(labels, dtype=np.int64), return_counts=True)
    assert counts.sum() == PLANTED
    return int(ids[np.argmax(counts)]), counts.max() / PLANTED


@pytest.mark.parametrize("two_runs_any", ["sqlite", "postgresql"], indirect=True)
def test_most_clusters_continue_and_the_planted_topic_is_new(two_runs_any):
    db, run_a, run_b = two_runs_any
    lineage = compute_lineage(db, run_a, run_b)
    counts = lineage.counts()
    # k stays 12 while a new topic takes one cluster, so the 12 earlier clusters meet at most
    # 11 later ones: at least one later cluster takes two (a merge) or an earlier one is gone.
    # Half continuing is the floor of a stable re-fit; the count moves with the embedding and
    # UMAP stack (7 with the packages of 2026-12-01, 6 on 2026-12-04, 10 on 2026-12-05).
    assert counts["continues"] >= K / 2, counts
    assert counts["merged"] + counts["gone"] >= 1, counts
    home, share = planted_home(db, run_b)
    assert share > 0.9
    [relation] = [r for r in lineage.relations if r.to_cluster_id == home]
    assert relation.kind == "new" and relation.from_cluster_id is None
    assert relation.overlap < 0.05 and relation.cosine < 0.5
    # every later cluster and every earlier one appears in some relation
    assert {r.to_cluster_id for r in lineage.relations} - {None} == set(range(K))
    assert {r.from_cluster_id for r in lineage.relations} - {None} == set(range(K))
    assert previous_run(db, run_b) == run_a and previous_run(db, run_a) is None

    assert write_lineage(db, lineage) == len(lineage.relations)
    assert write_lineage(db, lineage) == len(lineage.relations)  # replaced, not added
    with db.engine.connect() as connection:
        stored = connection.execute(
            select(
                ClusterLineage.from_cluster_id, ClusterLineage.to_cluster_id, ClusterLineage.kind
            ).where(ClusterLineage.to_run_id == run_b)
        ).all()
    assert sorted(stored, key=str) == sorted(
        ((r.from_cluster_id, r.to_cluster_id, r.kind) for r in lineage.relations), key=str
    )


def test_lineage_refuses_a_run_with_itself_or_an_unknown_run(two_runs):
    db, run_a, _ = two_runs
    with pytest.raises(LineageInputError, match="not with itself"):
        compute_lineage(db, run_a, run_a)
    with pytest.raises(UserError, match="kmeans-3-nothing is not registered"):
        compute_lineage(db, run_a, "kmeans-3-nothing")


def test_lmsys_diff_names_the_new_topic_with_its_title(two_runs, monkeypatch):
    db, run_a, run_b = two_runs
    summarize(db, run_a, "kw", label_quality_queries=0)
    summarize(db, run_b, "kw", label_quality_queries=0)
    url = f"sqlite:///{db.engine.url.database}"
    home, _ = planted_home(db, run_b)
    result = runner.invoke(app, ["diff", run_a, run_b, "--alias", "kw", "--db-url", url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [new] = [c for c in report["sections"]["new"] if c["after"][0]["cluster_id"] == home]
    title = new["after"][0]["title"]
    assert "alarm" in title.lower()
    assert report["counts"]["new"] == len(report["sections"]["new"])
    with db.engine.connect() as connection:
        sizes = connection.execute(
            select(func.count()).where(
                QueryCluster.run_id == run_b, QueryCluster.cluster_id == home
            )
        ).scalar_one()
    assert new["after"][0]["size"] == sizes
    monkeypatch.setattr(console, "_width", 250)
    text = runner.invoke(app, ["diff", run_a, run_b, "--alias", "kw", "--db-url", url])
    assert text.exit_code == 0
    new_section = text.output.split("New clusters:")[1].split("Gone clusters:")[0]
    assert f"cluster {home} ({sizes:,} queries) {title!r}" in new_section
    missing = runner.invoke(app, ["diff", run_a, "nope-1", "--db-url", url])
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")
