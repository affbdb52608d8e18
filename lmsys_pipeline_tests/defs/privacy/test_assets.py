"""``privacy_report``: metadata and blocking checks through a real Dagster instance."""

import dagster as dg
from sqlalchemy import update

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline_tests.privacy.planted import build_planted

CHECKS = {
    "no_finding_in_public_fields",
    "public_clusters_meet_threshold",
    "audited_scores_at_least_3",
}


def _materialize(instance, run_id: str, config: dict | None = None):
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey("privacy_report")],
        partition_key=summary_partition_key(run_id, "kw"),
        run_config={"ops": {"privacy_report": {"config": config or {}}}},
        raise_on_error=False,
    )


def test_the_report_passes_then_a_planted_title_fails_its_blocking_check(
    minilm, tmp_path, monkeypatch
):
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
