"""Materializations link to the explorer's page of their run when its address is configured
(``ExplorerResource``: a URL, an ``EnvVar`` or $LMSYS_EXPLORER_URL), and carry no link
otherwise."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import ExplorerResource
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline.explorer_links import EXPLORER_URL_ENV
from lmsys_pipeline_tests.conftest import definitions_with


@pytest.fixture
def run_id(embedded_db_file: Path, tmp_path: Path, monkeypatch) -> str:
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    monkeypatch.setenv("LMSYS_DB_URL", url)
    monkeypatch.delenv(EXPLORER_URL_ENV, raising=False)
    db = DatabaseManager(url)
    run = register_run(db, KMeansParams(n_clusters=6))
    db.dispose()
    return run.run_id


def _materialize(instance, asset: str, partition: str, **resources):
    job = definitions_with(**resources).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(asset)], partition_key=partition
    )
    [event] = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in event.metadata.items()}


def test_the_run_and_its_summaries_link_to_the_explorer_when_configured(run_id, monkeypatch):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
        instance.add_dynamic_partitions(SUMMARY_ALIASES, ["kw-1"])
        plain = _materialize(instance, "cluster_run", run_id)
        assert "explorer_page" not in plain  # no address: no link

        monkeypatch.setenv("EXPLORER_AT", "http://127.0.0.1:8123/")
        bound = ExplorerResource(url=dg.EnvVar("EXPLORER_AT"))
        linked = _materialize(instance, "cluster_run", run_id, explorer=bound)
        assert linked["explorer_page"] == f"http://127.0.0.1:8123/runs/{run_id}"

        monkeypatch.setenv(EXPLORER_URL_ENV, "http://explorer.example:8000")
        summaries = _materialize(
            instance, "cluster_summaries", summary_partition_key(run_id, "kw-1")
        )
        assert summaries["explorer_page"] == (
            f"http://explorer.example:8000/runs/{run_id}?alias=kw-1"
        )
