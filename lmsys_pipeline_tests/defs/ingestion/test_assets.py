from pathlib import Path

import dagster as dg
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.defs.ingestion.assets import lmsys_queries
from lmsys_pipeline.defs.ingestion.checks import queries_have_text, queries_table_not_empty
from lmsys_pipeline.defs.resources import DatabaseResource, ProgressResource
from lmsys_pipeline_tests.support.rows import typed_rows, write_parquet


def _materialize(
    db_url: str,
    instance: dg.DagsterInstance,
    progress: ProgressResource | None = None,
    **config,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [lmsys_queries, queries_have_text, queries_table_not_empty],
        instance=instance,
        resources={
            "database": DatabaseResource(url=db_url),
            "progress": progress or ProgressResource(),
        },
        run_config={"ops": {"lmsys_queries": {"config": config}}},
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("lmsys_queries")
    return {key: value.value for key, value in event.metadata.items()}


def test_materializes_the_sample_then_adds_nothing(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/q.db"
    with dg.DagsterInstance.ephemeral() as instance:
        first = _materialize(url, instance, limit=5000)
        assert first.success
        metadata = _metadata(first)
        assert (metadata["rows_read"], metadata["inserted"], metadata["skipped"]) == (5000, 5000, 0)
        assert metadata["total_queries"] == 5000
        assert "| English |" in metadata["top_languages"]  # named as LMSYS-Chat-1M does
        assert metadata["database"] == url
        checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
        assert checks == {"queries_have_text": True, "queries_table_not_empty": True}

        again = _metadata(_materialize(url, instance, limit=5000))
        assert (again["inserted"], again["skipped"]) == (0, 5000)
        assert "already_stored" in again["skipped_by_reason"]


def test_bad_rows_are_counted_by_reason_in_metadata(tmp_path: Path):
    source = write_parquet(tmp_path / "bad.parquet", typed_rows())
    with dg.DagsterInstance.ephemeral() as instance:
        metadata = _metadata(
            _materialize(f"sqlite:///{tmp_path}/q.db", instance, source=str(source))
        )
    assert metadata["inserted"] == 9 and metadata["skipped"] == 7
    for reason in (
        "missing_conversation_id",
        "no_user_message",
        "empty_first_user_message",
        "duplicate_conversation_id_in_source",
        "conversation_not_a_list",
    ):
        assert reason in metadata["skipped_by_reason"]
    assert metadata["row_notes"] == {"nul_removed": 1, "unknown_role": 1}


def test_missing_source_fails_the_run_with_one_clear_sentence(tmp_path: Path):
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(
            f"sqlite:///{tmp_path}/q.db", instance, source=str(tmp_path / "nope.parquet")
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith(f"Source {tmp_path / 'nope.parquet'} does not exist")
    db = DatabaseManager(f"sqlite:///{tmp_path}/q.db")
    with db.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Query)).scalar_one() == 0


def _progress_lines(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith("load: ")
    ]


def test_the_run_log_gets_progress_lines_at_the_resource_interval(tmp_path: Path):
    """Every batch of 500 rows is an event; the resource's interval decides how many reach the
    run log: all of them at 0 s, only the first at an hour."""
    with dg.DagsterInstance.ephemeral() as instance:
        every = _materialize(
            f"sqlite:///{tmp_path}/every.db",
            instance,
            ProgressResource(interval_s=1e-9),
            limit=2000,
            batch_size=500,
        )
        hourly = _materialize(
            f"sqlite:///{tmp_path}/hourly.db",
            instance,
            ProgressResource(interval_s=3600),
            limit=2000,
            batch_size=500,
        )
        assert every.success and hourly.success
        lines = _progress_lines(instance, every)
        assert [line.split(" rows")[0] for line in lines] == [
            "load: 500 / 2,000",
            "load: 1,000 / 2,000",
            "load: 1,500 / 2,000",
            "load: 2,000 / 2,000",
        ]
        assert "inserted 2,000, skipped 0" in lines[-1]
        assert len(_progress_lines(instance, hourly)) == 1
