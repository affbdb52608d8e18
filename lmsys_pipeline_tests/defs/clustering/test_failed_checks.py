"""A run whose blocking check fails does not look like a good run: its status says so in the
database (``lmsys runs``) and summary runs refuse it."""

import json
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.launch import materialize
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.clustering.validation import CheckOutcome
from lmsys_pipeline.defs.clustering import assets as clustering_assets
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.summarizing.params import SummaryInputError
from lmsys_pipeline_tests.support.pipeline_data import build_embedded, summarize

runner = CliRunner()


def test_a_run_failing_a_blocking_check_is_marked_and_not_summarised(
    any_db, minilm, tmp_path: Path, monkeypatch
):
    db = any_db
    build_embedded(db, minilm, tmp_path, queries=60)
    run = register_run(db, KMeansParams(n_clusters=3))
    real_checks = clustering_assets.check_run

    def one_failing(*args):
        # No KMeans run on real data leaves a cluster empty any more (k is refused above the
        # distinct vectors), so the failure a broken fit would cause is planted here.
        return [
            CheckOutcome(o.name, o.name != "no_empty_kmeans_cluster", o.detail)
            for o in real_checks(*args)
        ]

    monkeypatch.setattr(clustering_assets, "check_run", one_failing)
    url = db.engine.url.render_as_string(hide_password=False)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("clustering_runs", [run.run_id])
        result = materialize(
            instance,
            "cluster_run",
            {},
            verbose=False,
            resources={"database": DatabaseResource(url=url)},
            partition_key=run.run_id,
        )
    assert not result.success
    listed = runner.invoke(app, ["runs", "--db-url", url, "--json"])
    [shown] = json.loads(listed.stdout)
    assert shown["status"] == "checks_failed"
    with pytest.raises(SummaryInputError, match="failed its checks \\(no_empty_kmeans_cluster\\)"):
        summarize(db, run.run_id, "kw", label_quality_queries=0)

    monkeypatch.setattr(clustering_assets, "check_run", real_checks)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("clustering_runs", [run.run_id])
        again = materialize(
            instance,
            "cluster_run",
            {},
            verbose=False,
            resources={"database": DatabaseResource(url=url)},
            partition_key=run.run_id,
        )
    assert again.success
    [shown] = json.loads(runner.invoke(app, ["runs", "--db-url", url, "--json"]).stdout)
    assert shown["status"] == "materialized"
    assert summarize(db, run.run_id, "kw", label_quality_queries=0).entry.status == "completed"
