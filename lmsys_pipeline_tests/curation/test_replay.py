"""Rebuilds keep edits: re-materializing a clustering run (through Dagster) or a summary run
applies the run's edits again and reports the ones whose target vanished."""

import dagster as dg

from lmsys_pipeline.curation.edits import merge_clusters, move_queries, rename_cluster
from lmsys_pipeline.curation.history import audit
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.defs.clustering.partitions import CLUSTERING_RUNS
from lmsys_pipeline.defs.resources import DatabaseResource
from lmsys_pipeline.defs.summarizing.partitions import SUMMARY_ALIASES, summary_partition_key
from lmsys_pipeline_tests.conftest import definitions_with
from lmsys_pipeline_tests.support.tables import assert_counts_true, members, state


def _materialize(db, asset: str, run_id: str, alias: str | None = None, config=None):
    definitions = definitions_with(database=DatabaseResource(url=str(db.engine.url)))
    job = definitions.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CLUSTERING_RUNS, [run_id])
        partition = run_id
        if alias is not None:
            instance.add_dynamic_partitions(SUMMARY_ALIASES, [alias])
            partition = summary_partition_key(run_id, alias)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(asset)],
            partition_key=partition,
            run_config={"ops": {asset: {"config": config or {}}}},
        )
    assert result.success
    [event] = result.asset_materializations_for_node(asset)
    return event.metadata


def test_a_rebuilt_run_replays_moves_merges_and_renames(results):
    db, run_id = results
    moved = members(db, run_id, 0)[:3]
    move_queries(db, run_id, moved, 1)
    merge_clusters(db, run_id, [3], 2)
    rename_cluster(db, run_id, 2, alias="kw", title="Kept by hand")
    edited = state(db)

    metadata = _materialize(db, "cluster_run", run_id)

    assert metadata["edits_replayed"].value == 2
    assert metadata["edits_not_applied"].value == 0
    assert state(db)["assignments"] == edited["assignments"]
    assert_counts_true(db, run_id)
    with db.engine.connect() as connection:
        from sqlalchemy import select

        titles = dict(
            connection.execute(
                select(ClusterSummary.cluster_id, ClusterSummary.title).where(
                    ClusterSummary.run_id == run_id, ClusterSummary.alias == "kw"
                )
            ).all()
        )
    assert titles[2] == "Kept by hand" and 3 not in titles
    assert len(audit(db, run_id)) == 3


def test_an_edit_whose_target_vanished_is_reported_not_applied(results):
    from lmsys_pipeline.curation.replay import replay_edits

    db, run_id = results
    move_queries(db, run_id, members(db, run_id, 0)[:2], 5)
    merge_clusters(db, run_id, [5], 4)  # cluster 5 is gone after this
    with db.engine.begin() as connection:  # a rebuild that no longer has cluster 4
        from sqlalchemy import update

        from lmsys_pipeline.db.models import QueryCluster

        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id.in_([4, 5]))
            .values(cluster_id=0)
        )
    report = replay_edits(db, run_id)
    assert report.applied == []
    assert set(report.not_applied.values()) == {
        "cluster 5 no longer exists",
        "cluster 4 no longer exists",
    }


def test_a_new_summary_run_of_the_alias_keeps_the_hand_titles(results):
    db, run_id = results
    rename_cluster(db, run_id, 1, alias="kw", title="Named by a person")
    rename_cluster(db, run_id, 2, alias="kw-short", title="Other alias")

    metadata = _materialize(db, "cluster_summaries", run_id, "kw", {"restart": True})

    assert metadata["renames_replayed"].value == 2
    assert metadata["renames_not_applied"].value == {}
    with db.engine.connect() as connection:
        from sqlalchemy import select

        latest = connection.execute(
            select(ClusterSummary.summary_run_id, ClusterSummary.title).where(
                ClusterSummary.run_id == run_id,
                ClusterSummary.alias == "kw",
                ClusterSummary.cluster_id == 1,
            )
        ).all()
    assert [title for _, title in latest] == ["Named by a person"]
