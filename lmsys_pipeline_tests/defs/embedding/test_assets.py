from pathlib import Path

import dagster as dg

from lmsys_pipeline.definitions import defs


def _materialize(instance, selection: list[str], config: dict) -> dg.ExecuteInProcessResult:
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(name) for name in selection],
        run_config={"ops": config},
        raise_on_error=False,
    )


def _metadata(result, name: str) -> dict:
    [event] = result.asset_materializations_for_node(name)
    return {key: value.value for key, value in event.metadata.items()}


def test_embeddings_materialize_incrementally_with_checks(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/q.db")
    with dg.DagsterInstance.ephemeral() as instance:
        first = _materialize(
            instance,
            ["lmsys_queries", "query_embeddings"],
            {
                "lmsys_queries": {"config": {"limit": 120}},
                "query_embeddings": {"config": {"batch_size": 32, "chunk_size": 50}},
            },
        )
        assert first.success
        metadata = _metadata(first, "query_embeddings")
        assert metadata["new_queries_embedded"] == 120 == metadata["queries_with_vectors"]
        assert metadata["dimension"] == 384 and metadata["model"] == "all-MiniLM-L6-v2"
        assert metadata["texts_embedded"] + metadata["texts_reused"] <= 120
        checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
        assert checks["vectors_have_model_dimension_and_unit_length"] is True

        more = _materialize(
            instance,
            ["lmsys_queries", "query_embeddings"],
            {
                "lmsys_queries": {"config": {"limit": 150}},
                "query_embeddings": {"config": {}},
            },
        )
        again = _metadata(more, "query_embeddings")
        assert (again["new_queries_embedded"], again["queries_with_vectors"]) == (30, 150)
        assert again["model"] == "all-MiniLM-L6-v2"  # empty config: the embedder resource's


def test_an_unavailable_model_fails_the_run_in_one_sentence(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/q.db")
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(
            instance,
            ["query_embeddings"],
            {
                "query_embeddings": {"config": {"model": "nobody/nothing"}},
            },
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith("Model nobody/nothing is not in the local Hugging Face cache")
    assert "\n" not in description
