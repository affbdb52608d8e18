import numpy as np
from sqlalchemy import select, update

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.models import QueryCluster
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.reading.central import central_query_ids


def test_tied_confidences_are_ordered_by_closeness_to_the_cluster_core(embedded_db):
    """HDBSCAN gives most of a dense cluster probability 1: the examples shown must then be
    the queries nearest the cluster's core, not the tied ones with the lowest ids."""
    run = register_run(embedded_db, KMeansParams(n_clusters=4, reduction="pca"))
    materialize_run(embedded_db, run.run_id)
    untied = central_query_ids(embedded_db, run.run_id, [0], 3)[0]
    with embedded_db.engine.begin() as connection:
        members = (
            connection.execute(
                select(QueryCluster.query_id)
                .where(QueryCluster.run_id == run.run_id, QueryCluster.cluster_id == 0)
                .order_by(QueryCluster.query_id)
            )
            .scalars()
            .all()
        )
        best = connection.execute(
            select(QueryCluster.query_id)
            .where(QueryCluster.run_id == run.run_id, QueryCluster.cluster_id == 0)
            .order_by(QueryCluster.confidence_score.desc())
            .limit(1)
        ).scalar_one()
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run.run_id, QueryCluster.cluster_id == 0)
            .values(confidence_score=1.0)
        )
        connection.execute(
            update(QueryCluster)
            .where(QueryCluster.run_id == run.run_id, QueryCluster.query_id == members[-1])
            .values(confidence_score=1.5)  # one query above the tie keeps its place
        )
    stored = load_vectors(embedded_db, "all-MiniLM-L6-v2", members[:-1])
    core = stored.for_queries().sum(axis=0)
    nearest = stored.query_ids[np.argsort(-(stored.for_queries() @ core), kind="stable")]
    tied = central_query_ids(embedded_db, run.run_id, [0], 3)[0]
    assert tied == [members[-1], *map(int, nearest[:2])]
    assert tied[1:] != members[:2]  # not the lowest ids
    assert untied[0] == best  # without ties: the highest confidence first, as before
