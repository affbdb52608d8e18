"""Which registered runs ``lmsys cluster`` run again may take up: never materialized, with the
same parameters (as sized for the data) and description; the snapshot moves to now."""

from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.clustering.unfinished import take_up, unfinished_runs
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.conftest import EMBEDDED_QUERIES


def test_only_never_materialized_runs_of_the_same_command_are_taken_up(embedded_db):
    db = embedded_db
    asked = KMeansParams(n_clusters=5, reduction="pca")
    first = register_run(db, asked, description="weekly")
    second = register_run(db, asked, description="weekly")
    register_run(db, asked)  # another description
    register_run(db, KMeansParams(n_clusters=6, reduction="pca"), description="weekly")
    finished = register_run(db, asked, description="weekly")
    materialize_run(db, finished.run_id)

    found = unfinished_runs(db, asked, "weekly")

    assert [run.run_id for run in found] == [first.run_id, second.run_id]
    # HDBSCAN's default size is implied by the data at registration: the same command
    # on the same data matches it, although the command did not give it.
    hdbscan = register_run(db, HDBSCANParams(reduction="pca"))
    assert [r.run_id for r in unfinished_runs(db, HDBSCANParams(reduction="pca"), None)] == [
        hdbscan.run_id
    ]


def test_taking_a_run_up_moves_its_snapshot_to_the_data_of_now(embedded_db):
    db = embedded_db
    run = register_run(db, KMeansParams(n_clusters=5, reduction="pca"))
    assert run.parameters["max_query_id"] == EMBEDDED_QUERIES
    ingest_batches(db, open_source(None).batches(1000), limit=EMBEDDED_QUERIES + 10)

    taken = take_up(db, run.run_id)

    assert taken.parameters["max_query_id"] == EMBEDDED_QUERIES + 10
    assert {k: v for k, v in taken.parameters.items() if k != "max_query_id"} == {
        k: v for k, v in run.parameters.items() if k != "max_query_id"
    }
