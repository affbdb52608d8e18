import shutil
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import LLMResource
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

SECRET = "sk-test-SECRET-in-the-environment-only"


@pytest.fixture
def run_id(embedded_db_file: Path, tmp_path: Path, monkeypatch) -> str:
    shutil.copyfile(embedded_db_file, tmp_path / "q.db")
    url = f"sqlite:///{tmp_path}/q.db"
    monkeypatch.setenv("LMSYS_DB_URL", url)
    db = DatabaseManager(url)
    run = register_run(db, KMeansParams(n_clusters=6))
    materialize_run(db, run.run_id)
    db.dispose()
    return run.run_id


def _summarize(
    instance, run_id: str, alias: str, config: dict | None = None, llm: LLMResource | None = None
):
    """``llm``: the server and its limits, in place of the project's ``llm`` resource."""
    instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
    instance.add_dynamic_partitions(SUMMARY_ALIASES, [alias])
    chosen = defs if llm is None else definitions_with(llm=llm)
    return chosen.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("cluster_summaries")],
        partition_key=summary_partition_key(run_id, alias),
        run_config={"ops": {"cluster_summaries": {"config": config or {}}}},
        raise_on_error=False,
    )


def _metadata(result) -> dict:
    [event] = result.asset_materializations_for_node("cluster_summaries")
    return {key: value.value for key, value in event.metadata.items()}


def test_the_offline_summary_partition_materializes_with_titles_and_a_check(run_id):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _summarize(instance, run_id, "keywords-v1")
        assert result.success
        metadata = _metadata(result)
        assert metadata["model"] == "local/keyphrase" and metadata["clustering_run"] == run_id
        assert metadata["clusters_done"] == metadata["clusters_total"] == 6
        assert metadata["titles"].count("\n") == 7  # header, rule, 6 clusters
        assert metadata["titles"].startswith("| cluster | queries | title | examples |")
        assert metadata["cluster_map"].startswith("![cluster map of")
        assert metadata["clustering_run_page"] == f"/assets/cluster_run?partition={run_id}"
        assert "cluster size" in metadata["size_histogram"]
        assert metadata["failures"] == "_none_"
        assert 0 < metadata["label_accuracy"] <= 1
        assert 0 < metadata["label_member_fit"] <= 1 and metadata["label_duplicate_titles"] == 0
        [check] = result.get_asset_check_evaluations()
        assert check.check_name == "every_cluster_summarized" and check.passed
        again = _metadata(_summarize(instance, run_id, "keywords-v1"))
        assert again["resumed"] and again["clusters_labelled_now"] == 0


def test_the_partition_depends_on_its_clustering_run():
    graph = defs.resolve_asset_graph()
    summaries = graph.get(dg.AssetKey("cluster_summaries")).partitions_def
    clustering = graph.get(dg.AssetKey("cluster_run")).partitions_def
    mapping = graph.get_partition_mapping(
        dg.AssetKey("cluster_summaries"), dg.AssetKey("cluster_run")
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("clustering_runs", ["kmeans-5-x", "kmeans-7-y"])
        instance.add_dynamic_partitions("summary_aliases", ["gpt", "claude"])
        subset = summaries.empty_subset().with_partition_keys(
            [
                summary_partition_key("kmeans-5-x", "gpt"),
                summary_partition_key("kmeans-5-x", "claude"),
            ]
        )
        upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
            subset, summaries, clustering, dynamic_partitions_store=instance
        )
    assert set(upstream.partitions_subset.get_partition_keys()) == {"kmeans-5-x"}


def test_an_unknown_clustering_run_fails_in_one_sentence_without_retries(run_id):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _summarize(instance, "kmeans-9-nope", "a")
        assert not result.success
        [failure] = [e for e in result.all_events if e.is_step_failure]
        data = failure.event_specific_data.user_failure_data
        assert data.description.startswith("Clustering run kmeans-9-nope is not registered")


@pytest.mark.parametrize("key_from", ["environment", "resource"])
def test_the_api_key_never_reaches_tables_parameters_or_the_event_log(
    run_id, tmp_path, monkeypatch, caplog, key_from
):
    """The key as a user gives it: the provider's variable, or the llm resource's api_key (a
    deployment binds it to an EnvVar)."""
    state = ServerState()
    if key_from == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    api_key = SECRET if key_from == "resource" else None
    with openai_server(state) as url, dg.DagsterInstance.ephemeral() as instance:
        result = _summarize(
            instance,
            run_id,
            "gpt",
            {"model": "openai/gpt-4o-mini"},
            LLMResource(base_url=url, api_key=api_key, concurrency=2),
        )
        assert result.success
        logs = instance.all_logs(result.run_id)
        assert len(logs) > 5
        assert all(SECRET not in str(record) for record in logs)
    assert all(a == f"Bearer {SECRET}" for a in state.authorizations)
    assert len(state.chat_requests) == 6
    metadata = _metadata(result)
    assert metadata["estimated_cost_usd"] > 0  # gpt-4o-mini has a listed price
    assert SECRET not in caplog.text
    assert SECRET.encode() not in (tmp_path / "q.db").read_bytes()
    wal = tmp_path / "q.db-wal"
    assert not wal.exists() or SECRET.encode() not in wal.read_bytes()
    db = DatabaseManager(f"sqlite:///{tmp_path}/q.db")
    with db.get_session() as session:
        params = session.exec(select(ClusterSummary.parameters)).scalars().all()
    assert params and all(SECRET not in str(p) for p in params)


def test_a_partition_whose_alias_another_process_holds_fails_in_one_sentence(run_id):
    """Two materializations of one partition at once (the UI, a schedule): the second fails
    at once naming the holder and asks for nothing."""
    from lmsys_pipeline.db.summaries import AliasLease, SummaryRun
    from lmsys_pipeline_tests.support.leases import held_by

    db = DatabaseManager()  # $LMSYS_DB_URL, as the asset's database resource
    held_by(db, "other", 1)
    with db.engine.begin() as connection:
        connection.execute(AliasLease.__table__.update().values(run_id=run_id, alias="kw"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _summarize(instance, run_id, "kw")
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith(
        f"Alias kw on {run_id} is being summarized by another process (pid 1 on "
    )
    with db.engine.connect() as connection:
        assert connection.execute(select(SummaryRun)).all() == []
    db.dispose()
