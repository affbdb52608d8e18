import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import LLMResource
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

CHECKS = {
    "every_cluster_once_at_level_0",
    "parents_have_two_children",
    "no_cycles",
    "top_level_size",
}


@pytest.fixture
def run_id(hierarchy_db_file: tuple[Path, str], tmp_path: Path, monkeypatch) -> str:
    source, run_id = hierarchy_db_file
    shutil.copyfile(source, tmp_path / "q.db")
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/q.db")
    return run_id


def _materialize(instance, run_id: str, alias: str, config: dict | None = None, llm=None):
    instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
    instance.add_dynamic_partitions(SUMMARY_ALIASES, [alias])
    chosen = defs if llm is None else definitions_with(llm=llm)
    return chosen.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("cluster_hierarchy")],
        partition_key=summary_partition_key(run_id, alias),
        run_config={"ops": {"cluster_hierarchy": {"config": config or {}}}},
        raise_on_error=False,
    )


def _metadata(result) -> dict:
    [event] = result.asset_materializations_for_node("cluster_hierarchy")
    return {key: value.value for key, value in event.metadata.items()}


def test_the_offline_hierarchy_materializes_with_its_tree_and_checks(run_id):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(instance, run_id, "kw", {"top": 6})
        assert result.success
        metadata = _metadata(result)
        assert metadata["model"] == "local/agglomerative" and metadata["clustering_run"] == run_id
        assert metadata["hierarchy_run_id"].startswith("hier-agglomerative-")
        assert metadata["status"] == "completed" and metadata["level_sizes"][0] == 60
        assert metadata["tree"].startswith("- **")  # a parent first, in bold
        assert metadata["tree"].count("\n") >= 60  # every cluster under its parent
        assert isinstance(metadata["orphans"], int)
        assert metadata["levels_table"].startswith("| level | nodes | asked for | orphans |")
        assert metadata["failures"] == "_none_"
        assert 0 < metadata["label_member_fit"] <= 1 and metadata["label_duplicate_titles"] == 0
        evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert set(evaluations) == CHECKS and all(c.passed for c in evaluations.values())
        again = _metadata(_materialize(instance, run_id, "kw"))
        assert again["resumed"] and again["hierarchy_run_id"] == metadata["hierarchy_run_id"]
        other = _metadata(_materialize(instance, run_id, "kw", {"top": 4}))
        assert other["replaced_hierarchy_runs"] == [metadata["hierarchy_run_id"]]


def test_the_llm_hierarchy_partition_uses_the_llm_resource_and_config_concurrency(
    run_id, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-written")
    state = ServerState()
    with openai_server(state) as url, dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(
            instance,
            run_id,
            "kw2",
            {"model": "openai/test-model", "top": 8, "concurrency": 3},
            llm=LLMResource(base_url=url, concurrency=1),
        )
        assert result.success
        metadata = _metadata(result)
    assert metadata["requests"] == len(state.chat_requests) > 60
    assert metadata["model"] == "openai/test-model" and metadata["status"] == "completed"
    with DatabaseManager(os.environ["LMSYS_DB_URL"]).get_session() as session:
        entry = session.get(HierarchyRun, metadata["hierarchy_run_id"])
    assert entry.parameters["concurrency"] == 3 and entry.parameters["base_url"] == url


def test_a_run_without_its_alias_summary_fails_in_one_sentence(run_id):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(instance, run_id, "nobody")
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.event_specific_data.user_failure_data.description
    assert description == (
        f"Clustering run {run_id} has no summary run with alias nobody: run lmsys summarize "
        f"{run_id} --alias nobody first."
    )
