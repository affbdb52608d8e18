"""``privacy_report``: metadata and blocking checks through a real Dagster instance."""

import dagster as dg
from sqlalchemy import update

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import LLMResource
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.privacy.planted import build_planted
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server

CHECKS = {
    "no_finding_in_public_fields",
    "public_clusters_meet_threshold",
    "audited_scores_at_least_3",
}


def _materialize(instance, run_id: str, config: dict | None = None, url: str | None = None):
    chosen = defs if url is None else definitions_with(llm=LLMResource(base_url=url))
    return chosen.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("privacy_report")],
        partition_key=summary_partition_key(run_id, "kw"),
        run_config={"ops": {"privacy_report": {"config": config or {}}}},
        raise_on_error=False,
    )


def test_the_report_passes_then_a_low_audit_and_a_planted_title_fail_blocking_checks(
    minilm, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-written")
    db = DatabaseManager(tmp_path / "q.db")
    run_id = build_planted(db, minilm, tmp_path)
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/q.db")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
        instance.add_dynamic_partitions(SUMMARY_ALIASES, ["kw"])
        result = _materialize(instance, run_id, {"min_conversations": 5})
        assert result.success
        [event] = result.asset_materializations_for_node("privacy_report")
        metadata = {k: v.value for k, v in event.metadata.items()}
        assert metadata["min_conversations"] == 5 and metadata["conversations"] == 144
        assert metadata["findings_in_public_fields"] == 0
        assert metadata["findings_in_stored_fields"] > 0 and metadata["quotes_withheld"] > 0
        evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert set(evaluations) == CHECKS and all(c.passed for c in evaluations.values())

        public = metadata["public_nodes"]

        def audited(score: int) -> dict:
            state = ServerState(chat_label=lambda prompt: {"score": score, "reason": "r"})
            with openai_server(state) as url:
                result = _materialize(instance, run_id, {"audit_model": "openai/auditor"}, url)
            [event] = result.asset_materializations_for_node("privacy_report")
            check = next(
                c
                for c in result.get_asset_check_evaluations()
                if c.check_name == "audited_scores_at_least_3"
            )
            return {k: v.value for k, v in event.metadata.items()}, check, result.success

        found, check, success = audited(4)
        assert success and check.passed
        assert found["audited"] == public and found["audit_requests"] == public
        found, check, success = audited(2)  # another server: asked again, scores too low
        assert not success and not check.passed and found["audited"] == public
        assert len(check.metadata["below_3"].value) == min(public, 20)

        with db.engine.begin() as connection:
            connection.execute(update(ClusterSummary).values(title="Refunds to +44 20 7946 0958"))
        result = _materialize(instance, run_id)
        evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
        failed = evaluations["no_finding_in_public_fields"]
        assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
        assert failed.metadata["findings"].value > 0
        assert "7946" not in str(failed.metadata)
        assert not result.success  # blocking: the run stops here
    db.dispose()
