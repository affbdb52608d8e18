import pytest
from sqlalchemy import delete, func, select, update

from lmsys_pipeline.clustering.fit import ClusteringInputError
from lmsys_pipeline.clustering.params import HDBSCANParams, KMeansParams
from lmsys_pipeline.clustering.runs import RunNotFound, materialize_run, register_run
from lmsys_pipeline.clustering.validation import check_run
from lmsys_pipeline.db.models import ClusteringRun, QueryCluster
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.clustering.stored import kmeans_before_umap
from lmsys_pipeline_tests.conftest import EMBEDDED_QUERIES


def _assignments(db, run_id: str) -> dict[int, int]:
    with db.engine.connect() as connection:
        return dict(
            connection.execute(
                select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                    QueryCluster.run_id == run_id
                )
            ).all()
        )


def test_kmeans_run_is_recorded_and_reproducible(embedded_db):
    run = register_run(embedded_db, KMeansParams(n_clusters=12), description="test run")
    assert run.run_id.startswith("kmeans-12-") and run.num_clusters == 12
    materialize_run(embedded_db, run.run_id)
    first = _assignments(embedded_db, run.run_id)
    assert len(first) == EMBEDDED_QUERIES and set(first.values()) == set(range(12))

    materialize_run(embedded_db, run.run_id)  # re-materialize: replaced, not duplicated
    assert _assignments(embedded_db, run.run_id) == first
    with embedded_db.get_session() as session:
        stored = session.get(ClusteringRun, run.run_id)
        rows = session.execute(select(func.count()).select_from(QueryCluster)).scalar_one()
    assert rows == EMBEDDED_QUERIES
    assert stored.description == "test run"
    assert stored.parameters["n_queries"] == EMBEDDED_QUERIES
    assert stored.parameters["embedding_model"] == "all-MiniLM-L6-v2"
    assert stored.parameters["embedding_dimension"] == 384
    assert stored.parameters["seed"] == 42 and stored.parameters["n_init"] == 10
    recorded = {k: stored.parameters[k] for k in ("reduction", "reduce_dims", "fitted_rows")}
    assert recorded == {"reduction": "umap", "reduce_dims": 5, "fitted_rows": EMBEDDED_QUERIES}
    umap_settings = ("umap_neighbors", "umap_min_dist", "umap_sample")
    assert [stored.parameters[k] for k in umap_settings] == [15, 0.0, 50_000]
    assert all(o.passed for o in check_run(embedded_db, run.run_id, EMBEDDED_QUERIES))


def test_a_pca_run_and_a_run_registered_before_umap_give_the_same_assignments(embedded_db):
    """A run recorded before UMAP existed (no UMAP fields, issue 11's parameters) reproduces
    with PCA, exactly like a run asking for --reduction pca today."""
    pca = register_run(embedded_db, KMeansParams(n_clusters=12, reduction="pca"))
    materialize_run(embedded_db, pca.run_id)
    old_parameters = kmeans_before_umap(max_query_id=EMBEDDED_QUERIES)
    with embedded_db.get_session() as session:
        session.add(
            ClusteringRun(
                run_id="kmeans-12-before-umap",
                algorithm="kmeans",
                num_clusters=12,
                parameters=old_parameters,
            )
        )
        session.commit()
    result, _ = materialize_run(embedded_db, "kmeans-12-before-umap")
    assert result.fit.details["reduction"] == "pca" and result.fit.details["kmeans"] == "spherical"
    assert _assignments(embedded_db, "kmeans-12-before-umap") == _assignments(
        embedded_db, pca.run_id
    )


def test_hdbscan_runs_record_the_min_cluster_size_the_data_implied(embedded_db):
    run = register_run(embedded_db, HDBSCANParams())
    assert run.run_id.startswith("hdbscan-10-") and run.parameters["min_cluster_size"] == 10
    result, _ = materialize_run(embedded_db, run.run_id)
    assert result.fit.details["min_cluster_size"] == 10


def test_a_run_ignores_queries_that_arrive_after_registration(embedded_db, minilm):
    run = register_run(embedded_db, KMeansParams(n_clusters=5))
    ingest_batches(embedded_db, open_source(None).batches(1000), limit=EMBEDDED_QUERIES + 50)
    from lmsys_pipeline.embedding.runner import embed_pending

    embed_pending(embedded_db, minilm)
    result, _ = materialize_run(embedded_db, run.run_id)
    assert len(result.query_ids) == EMBEDDED_QUERIES


def test_hdbscan_run_stores_noise_and_counts_real_clusters(embedded_db):
    run = register_run(embedded_db, HDBSCANParams(min_cluster_size=8))
    result, _ = materialize_run(embedded_db, run.run_id)
    assert result.fit.num_clusters > 1 and 0 < result.noise_share < 1
    sizes = [n for c, n in result.sizes.items() if c != -1]
    assert max(sizes) < 0.5 * EMBEDDED_QUERIES  # not one cluster swallowing the sample
    assignments = _assignments(embedded_db, run.run_id)
    assert -1 in assignments.values() and len(assignments) == EMBEDDED_QUERIES
    with embedded_db.get_session() as session:
        stored = session.get(ClusteringRun, run.run_id)
        confidences = (
            session.execute(
                select(QueryCluster.confidence_score).where(QueryCluster.run_id == run.run_id)
            )
            .scalars()
            .all()
        )
    assert stored.num_clusters == len(set(assignments.values()) - {-1}) > 1
    assert all(c is not None and 0 <= c <= 1 for c in confidences)


def test_checks_fail_on_a_corrupted_run(embedded_db):
    run = register_run(embedded_db, KMeansParams(n_clusters=6))
    materialize_run(embedded_db, run.run_id)
    with embedded_db.engine.begin() as connection:
        victim = connection.execute(select(QueryCluster.id).limit(1)).scalar_one()
        connection.execute(delete(QueryCluster).where(QueryCluster.id == victim))
        connection.execute(update(ClusteringRun).values(num_clusters=99))
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.cluster_id == 5)
            .values(cluster_id=4, confidence_score=1.7)
        )
    outcomes = {o.name: o.passed for o in check_run(embedded_db, run.run_id, EMBEDDED_QUERIES)}
    assert outcomes == {
        "every_query_assigned_once": False,
        "num_clusters_matches_assignments": False,
        "confidence_within_documented_range": False,
        "no_empty_kmeans_cluster": False,
    }


def test_impossible_runs_fail_before_any_row_is_written(embedded_db, tmp_path):
    from lmsys_pipeline.db.connection import DatabaseManager

    impossible = [
        (KMeansParams(n_clusters=5000), "fewer than the 5000"),
        (HDBSCANParams(min_cluster_size=5000), "larger than the 600"),
        (KMeansParams(n_clusters=3, limit=2), "fewer than the 3"),
    ]
    for params, message in impossible:
        with pytest.raises(ClusteringInputError, match=message):
            register_run(embedded_db, params)
    empty = DatabaseManager(tmp_path / "empty.db")
    with pytest.raises(ClusteringInputError, match="no queries embedded"):
        register_run(empty, KMeansParams(n_clusters=3))
    for db in (embedded_db, empty):
        with db.engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(ClusteringRun)).scalar() == 0
            assert connection.execute(select(func.count()).select_from(QueryCluster)).scalar() == 0
    with pytest.raises(RunNotFound):
        materialize_run(empty, "kmeans-3-never-registered")


def test_identical_vectors_fail_at_fit_time_without_assignments(tmp_path, minilm):
    from lmsys_pipeline.db.connection import DatabaseManager
    from lmsys_pipeline.embedding.runner import embed_pending
    from lmsys_pipeline_tests.embedding.conftest import load_rows

    db = DatabaseManager(tmp_path / "same.db")
    load_rows(db, tmp_path, ["the very same question"] * 10)
    embed_pending(db, minilm)
    with pytest.raises(ClusteringInputError, match="hold only 1 distinct texts"):
        register_run(db, KMeansParams(n_clusters=2))  # KMeans is refused before it registers
    run = register_run(db, HDBSCANParams(min_cluster_size=3))
    with pytest.raises(ClusteringInputError, match="identical"):
        materialize_run(db, run.run_id)
    assert _assignments(db, run.run_id) == {}


def test_rematerializing_replaces_assignments_on_both_databases(any_db, minilm, tmp_path):
    """COPY on PostgreSQL, batched INSERTs on SQLite: the same rows, never duplicated."""
    from sqlalchemy import select

    from lmsys_pipeline.clustering.params import KMeansParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run
    from lmsys_pipeline.db.models import QueryCluster
    from lmsys_pipeline_tests.support.pipeline_data import build_embedded

    build_embedded(any_db, minilm, tmp_path, queries=60)
    run = register_run(any_db, KMeansParams(n_clusters=3))
    rows = []
    for _ in range(2):
        materialize_run(any_db, run.run_id)
        with any_db.engine.connect() as connection:
            rows.append(
                connection.execute(
                    select(
                        QueryCluster.query_id,
                        QueryCluster.cluster_id,
                        QueryCluster.confidence_score,
                    )
                    .where(QueryCluster.run_id == run.run_id)
                    .order_by(QueryCluster.query_id)
                ).all()
            )
    assert len(rows[0]) == 62 and rows[0] == rows[1]
    assert all(-1 <= confidence <= 1 for _, _, confidence in rows[0])
