"""Queries newer than a run's snapshot join its nearest cluster (``clustering/late.py``), on
the two real runs of ``pipeline_data.build_two_runs``: run A never saw the last 20% of the
sample nor the planted HWU64 alarm utterances."""

import numpy as np
import pytest
from sqlalchemy import select

from lmsys_pipeline.clustering.late import assign_new_queries, late_status, latest_run
from lmsys_pipeline.clustering.params import HDBSCANParams
from lmsys_pipeline.clustering.runs import load_run, materialize_run, register_run
from lmsys_pipeline.db.assigned import AssignedAfterFit
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.store import load_vectors_from_db
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.pipeline_data import FIRST, MORE, PLANTED, PLANTED_PREFIX


def _rows(db, run_id: str, after: int):
    with db.engine.connect() as connection:
        return connection.execute(
            select(
                QueryCluster.query_id,
                QueryCluster.cluster_id,
                QueryCluster.confidence_score,
                AssignedAfterFit.novel,
                Query.conversation_id,
            )
            .join(Query, Query.id == QueryCluster.query_id)
            .outerjoin(
                AssignedAfterFit,
                (AssignedAfterFit.run_id == QueryCluster.run_id)
                & (AssignedAfterFit.query_id == QueryCluster.query_id),
            )
            .where(QueryCluster.run_id == run_id, QueryCluster.query_id > after)
            .order_by(QueryCluster.query_id)
        ).all()


@pytest.mark.parametrize("two_runs_any", ["sqlite", "postgresql"], indirect=True)
def test_new_queries_join_the_nearest_centroid_and_the_planted_ones_are_novel(two_runs_any):
    db, run_a, run_b = two_runs_any
    run, _ = load_run(db, run_a)
    snapshot = run.parameters["max_query_id"]
    assert late_status(db, run_a).unassigned == MORE + PLANTED
    status = assign_new_queries(db, run_a)
    assert status.assigned_now == status.assigned_after_fit == MORE + PLANTED
    assert status.unassigned == 0

    # the same assignment computed independently: numpy over the stored vectors, the run's
    # own (fitted) members, unit mean per cluster, highest cosine
    stored = load_vectors_from_db(db, "all-MiniLM-L6-v2", 384)
    vectors = stored.vectors[stored.rows]
    members = dict((q, c) for q, c, *_ in _rows(db, run_a, after=0) if q <= snapshot)
    index = {int(q): i for i, q in enumerate(stored.query_ids)}
    k = max(members.values()) + 1
    sums = np.zeros((k, vectors.shape[1]))
    for query, cluster in members.items():
        sums[cluster] += vectors[index[query]]
    centres = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    late = _rows(db, run_a, after=snapshot)
    assert len(late) == MORE + PLANTED
    cosines = np.array([vectors[index[q]] for q, *_ in late]) @ centres.T
    assert [c for _, c, *_ in late] == cosines.argmax(axis=1).tolist()
    assert np.allclose([s for _, _, s, *_ in late], cosines.max(axis=1), atol=1e-5)

    planted = [novel for *_, novel, conversation in late if conversation.startswith(PLANTED_PREFIX)]
    sample = [
        novel for *_, novel, conversation in late if not conversation.startswith(PLANTED_PREFIX)
    ]
    assert len(planted) == PLANTED and len(sample) == MORE
    # about NOVEL_QUANTILE (10%) of queries like the run's own are novel by chance; the unseen
    # topic is far above that
    assert np.mean(planted) > 0.4 > 0.2 > np.mean(sample)
    assert status.novel == sum(planted) + sum(sample)

    again = assign_new_queries(db, run_a)
    assert again.assigned_now == 0 and again.assigned_after_fit == MORE + PLANTED
    # by default new queries join the latest run: B has seen them all
    assert latest_run(db).run_id == run_b
    assert assign_new_queries(db).assigned_now == 0


def _independent_vote(db, run_id: str, snapshot: int, late) -> tuple[list[int], list[float]]:
    """Each late query's label and membership computed apart from the pipeline: cosine to
    every fitted member (noise included), the 10 most similar vote, a tie goes to the label of
    the nearer neighbour; membership = summed confidence of the winner's voters / 10."""
    stored = load_vectors_from_db(db, "all-MiniLM-L6-v2", 384)
    vectors = stored.vectors[stored.rows]
    index = {int(q): i for i, q in enumerate(stored.query_ids)}
    members = [(q, c, s) for q, c, s, *_ in _rows(db, run_id, after=0) if q <= snapshot]
    member_vectors = np.array([vectors[index[q]] for q, *_ in members])
    member_labels = np.array([c for _, c, _ in members])
    member_scores = np.array([s for *_, s in members])
    labels, scores = [], []
    for query, *_ in late:
        similarity = member_vectors @ vectors[index[query]]
        nearest = np.argsort(-similarity, kind="stable")[:10]
        voters = member_labels[nearest].tolist()
        winner = max(voters, key=lambda label: (voters.count(label), -voters.index(label)))
        labels.append(winner)
        agreeing = member_scores[nearest][member_labels[nearest] == winner]
        scores.append(0.0 if winner == -1 else float(agreeing.sum()) / 10)
    return labels, scores


def test_an_hdbscan_run_labels_new_queries_by_the_vote_of_its_members(two_runs, minilm):
    db, _, _ = two_runs
    run = register_run(db, HDBSCANParams(min_cluster_size=10))
    materialize_run(db, run.run_id)
    ingest_batches(db, open_source(None).batches(1000), limit=FIRST + MORE + 200)
    embed_pending(db, minilm)
    status = assign_new_queries(db)
    assert status.run_id == run.run_id and status.assigned_now == 200
    snapshot = run.parameters["max_query_id"]
    late = _rows(db, run.run_id, after=snapshot)
    assert len(late) == 200
    labels, scores = _independent_vote(db, run.run_id, snapshot, late)
    assert [c for _, c, *_ in late] == labels
    assert np.allclose([s for _, _, s, *_ in late], scores, atol=1e-5)
    # noise members vote: some new queries stay noise, as queries like them did in the fit
    assert -1 in labels and len(set(labels)) > 10


def test_counting_unassigned_queries_is_an_anti_join_on_postgresql(postgres_db):
    """``NOT IN (subquery)`` turned into a per-row rescan of a million assignments once the
    planner knew their number (minutes in benchmarks/keeping_current.py); the count must be
    planned as an anti join whatever the statistics say."""
    from lmsys_pipeline.clustering.late import unassigned_count

    statement = unassigned_count("some-run", "all-MiniLM-L6-v2", 0)
    compiled = statement.compile(postgres_db.engine, compile_kwargs={"literal_binds": True})
    with postgres_db.engine.connect() as connection:
        plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {compiled}").scalars())
    assert "Anti Join" in plan and "SubPlan" not in plan, plan
