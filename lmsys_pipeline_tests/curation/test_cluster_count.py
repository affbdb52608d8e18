"""A run's ``num_clusters`` (what ``lmsys runs`` shows) follows every edit that changes its
set of clusters — split, merge, delete, a move that empties one, undo — and deletions, on both
databases; the run's own check (``num_clusters`` = its distinct non-noise ids) keeps passing."""

from pathlib import Path

import pytest
from sqlalchemy import select

from lmsys_pipeline.clustering.validation import check_run
from lmsys_pipeline.curation.edits import merge_clusters, move_queries
from lmsys_pipeline.curation.history import undo
from lmsys_pipeline.curation.reshape import delete_cluster, split_cluster
from lmsys_pipeline.db.models import Query
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline.reading.runs import list_runs
from lmsys_pipeline_tests.support.pipeline_data import results_once
from lmsys_pipeline_tests.support.tables import members


def _shown(db, run_id: str) -> int:
    [row] = list_runs(db, run_ids=[run_id])
    failed = [c.name for c in check_run(db, run_id, row.num_queries) if not c.passed]
    assert "num_clusters_matches_assignments" not in failed
    return row.num_clusters


@pytest.fixture(params=["sqlite", "postgresql"])
def six(request, built_once, minilm, tmp_path: Path):
    """200 sample queries in a KMeans run of 6 clusters, a private copy on either database."""
    with results_once(request, built_once, minilm, tmp_path, queries=200, k=6) as (db, runs):
        yield db, runs[0]


def test_num_clusters_follows_splits_merges_deletes_moves_undo_and_deletions(six):
    db, run_id = six
    assert _shown(db, run_id) == 6
    split = split_cluster(db, run_id, 1, parts=3)
    assert _shown(db, run_id) == 8
    merged = merge_clusters(db, run_id, [6, 7], into=1)
    assert _shown(db, run_id) == 6
    deleted = delete_cluster(db, run_id, 5)
    assert _shown(db, run_id) == 5
    emptied = move_queries(db, run_id, members(db, run_id, 4), 3)
    assert _shown(db, run_id) == 4
    undo(db, emptied)
    assert _shown(db, run_id) == 5
    undo(db, deleted)
    undo(db, merged)
    assert _shown(db, run_id) == 8
    undo(db, split)
    assert _shown(db, run_id) == 6
    [alone] = members(db, run_id, 0)[:1]
    split_cluster(db, run_id, 0, query_ids=[alone])
    assert _shown(db, run_id) == 7
    with db.engine.connect() as connection:
        conversation = connection.execute(
            select(Query.conversation_id).where(Query.id == alone)
        ).scalar_one()
    delete_conversations(db, [conversation])  # the split-off cluster goes with its only query
    assert _shown(db, run_id) == 6
