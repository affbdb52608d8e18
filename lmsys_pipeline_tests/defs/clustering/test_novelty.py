"""New queries between re-clusterings, through Dagster: ``new_query_assignments`` assigns
them to the latest run, and ``recluster_on_novelty_sensor`` requests one new run once past
its threshold — and only once."""

import dagster as dg
import pytest

from lmsys_pipeline.clustering.late import LateStatus
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.defs.clustering.sensors import Triggers, build_recluster_sensor
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.support.pipeline_data import FIRST, MORE

ARRIVING = 60


def _tick(sensor, instance, resources, cursor=None):
    # an instance_ref and the definitions, as the sensor daemon has them
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        resources=resources,
        cursor=cursor,
        repository_def=definitions_with(**resources).get_repository_def(),
    ) as context:
        return sensor.evaluate_tick(context)


@pytest.mark.parametrize("two_runs_any", ["sqlite", "postgresql"], indirect=True)
def test_the_sensor_fires_once_past_its_threshold_and_the_asset_assigns(two_runs_any, minilm):
    db, _, run_b = two_runs_any
    resources = {
        "database": DatabaseResource(url=db.engine.url.render_as_string(hide_password=False))
    }
    sensor = build_recluster_sensor(Triggers(unassigned=ARRIVING), KMeansParams(n_clusters=5))
    with dg.instance_for_test() as instance:
        below = _tick(sensor, instance, resources)
        assert not below.run_requests and "below the thresholds" in below.skip_message
        # queries arrive after run B (the latest run) and are embedded
        ingest_batches(db, open_source(None).batches(1000), limit=FIRST + MORE + ARRIVING)
        embed_pending(db, minilm)
        fired = _tick(sensor, instance, resources, below.cursor)
        [request] = fired.run_requests
        assert fired.cursor == run_b
        with db.get_session() as session:
            registered = session.get(ClusteringRun, request.partition_key)
        assert registered.num_clusters == 5 and run_b in registered.description
        again = _tick(sensor, instance, resources, fired.cursor)
        assert not again.run_requests and "already requested" in again.skip_message

        result = (
            definitions_with(**resources)
            .resolve_implicit_global_asset_job_def()
            .execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey("new_query_assignments")]
            )
        )
        [event] = result.asset_materializations_for_node("new_query_assignments")
        metadata = {k: v.value for k, v in event.metadata.items()}
        assert metadata["run_id"] == run_b and metadata["assigned_now"] == ARRIVING
        assert metadata["unassigned"] == 0 and 0 <= metadata["novel"] <= ARRIVING


def test_the_novel_share_counts_once_enough_queries_arrived():
    triggers = Triggers(novel_share=0.2, min_new=100, unassigned=1000)
    assert triggers.reason(LateStatus("r", assigned_after_fit=99, novel=99)) is None
    assert triggers.reason(LateStatus("r", assigned_after_fit=100, novel=19)) is None
    assert "novel share 20.0%" in triggers.reason(LateStatus("r", assigned_after_fit=100, novel=20))
    assert "1,000 unassigned" in triggers.reason(LateStatus("r", unassigned=1000))
