"""Hand edits on real sample data, on both databases: the rows after the edit, the audit row,
``undo`` restoring the exact previous state, and bad input changing nothing."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lmsys_pipeline.curation.annotations import mark_cluster, tag_cluster
from lmsys_pipeline.curation.edits import (
    EditError,
    merge_clusters,
    move_queries,
    rename_cluster,
)
from lmsys_pipeline.curation.history import audit, history, undo
from lmsys_pipeline.db.curation import ClusterEdit, ClusterMetadata
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.errors import UserError
from lmsys_pipeline_tests.support.pipeline_data import results_once
from lmsys_pipeline_tests.support.tables import assert_counts_true, members, state


@pytest.fixture(params=["sqlite", "postgresql"])
def edited(request, built_once, minilm, tmp_path: Path):
    """A private copy of 200 sample queries in a KMeans run of 6 clusters with an offline
    summary run, on either database."""
    with results_once(request, built_once, minilm, tmp_path, queries=200, k=6) as (db, runs):
        yield db, runs[0]


def test_rename_then_undo(edited):
    db, run_id = edited
    before = state(db)
    edit_id = rename_cluster(
        db, run_id, 2, alias="kw", title="Card troubles", editor="ana", reason="misleading"
    )
    with db.engine.connect() as connection:
        title = connection.execute(
            select(ClusterSummary.title).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == 2
            )
        ).scalar_one()
    assert title == "Card troubles"
    [row] = audit(db, run_id)
    assert (row.id, row.edit_type, row.editor, row.cluster_id) == (edit_id, "rename", "ana", 2)
    assert row.reason == "misleading" and row.new_value["title"] == "Card troubles"
    undo(db, edit_id, editor="ana")
    assert state(db) == before
    assert [e.edit_type for e in audit(db, run_id)] == ["rename", "undo"]


def test_move_queries_keeps_counts_and_undo_restores_confidences(edited):
    db, run_id = edited
    before = state(db)
    moved = members(db, run_id, 0)[:3]
    edit_id = move_queries(db, run_id, moved, 1, editor="ana")
    assert set(moved) <= set(members(db, run_id, 1))
    assert_counts_true(db, run_id)
    assert [e.id for e in history(db, run_id, query_id=moved[0])] == [edit_id]
    assert [e.id for e in history(db, run_id, cluster_id=0)] == [edit_id]
    undo(db, edit_id)
    assert state(db) == before


def test_merge_then_undo_brings_back_the_titles(edited):
    db, run_id = edited
    before = state(db)
    expected = sorted(members(db, run_id, 3) + members(db, run_id, 4))
    edit_id = merge_clusters(db, run_id, [4], 3, editor="ana")
    assert members(db, run_id, 3) == expected and members(db, run_id, 4) == []
    with db.engine.connect() as connection:
        left = connection.execute(
            select(func.count()).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == 4
            )
        ).scalar_one()
    assert left == 0
    assert_counts_true(db, run_id)
    undo(db, edit_id)
    assert state(db) == before


def test_tags_and_flags_then_undo(edited):
    db, run_id = edited
    before = state(db)
    first = mark_cluster(db, run_id, 1, "tag", ["billing", "report-q3"])
    mark_cluster(db, run_id, 1, "flag", ["review"])
    third = mark_cluster(db, run_id, 1, "tag", ["report-q3"], remove=True)
    with db.engine.connect() as connection:
        row = connection.execute(
            select(ClusterMetadata.tags, ClusterMetadata.flags).where(
                ClusterMetadata.run_id == run_id, ClusterMetadata.cluster_id == 1
            )
        ).one()
    assert (row.tags, row.flags) == (["billing"], ["review"])
    with pytest.raises(EditError, match="undo edit"):
        undo(db, first)
    undo(db, third)
    undo(db, third - 1)
    undo(db, first)
    assert state(db) == before


def _metadata(db, run_id: str, cluster_id: int):
    with db.engine.connect() as connection:
        return connection.execute(
            select(
                ClusterMetadata.tags,
                ClusterMetadata.quality,
                ClusterMetadata.coherence_score,
                ClusterMetadata.notes,
            ).where(ClusterMetadata.run_id == run_id, ClusterMetadata.cluster_id == cluster_id)
        ).one()


def test_a_rating_is_one_edit_that_undo_takes_back(edited):
    db, run_id = edited
    before = state(db)
    first = tag_cluster(
        db, run_id, 1, ["billing"], quality="low", coherence=2, notes="  refunds and jokes  "
    )
    assert tuple(_metadata(db, run_id, 1)) == (["billing"], "low", 2.0, "refunds and jokes")
    [row] = audit(db, run_id)
    assert row.edit_type == "tag" and row.new_value == {
        "tags": ["billing"],
        "quality": "low",
        "coherence_score": 2.0,
        "notes": "refunds and jokes",
    }
    second = tag_cluster(db, run_id, 1, notes="", reason="said twice")
    third = tag_cluster(db, run_id, 1, quality="medium")
    assert tuple(_metadata(db, run_id, 1)) == (["billing"], "medium", 2.0, None)
    assert [e.edit_type for e in audit(db, run_id)] == ["tag", "notes", "quality"]
    undo(db, third)
    assert tuple(_metadata(db, run_id, 1)) == (["billing"], "low", 2.0, None)
    undo(db, second)
    undo(db, first)
    assert state(db) == before


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda db, run: rename_cluster(db, "no-such-run", 1, alias="kw", title="x"), "does not"),
        (lambda db, run: rename_cluster(db, run, 1, alias="kw"), "Give a new"),
        (lambda db, run: move_queries(db, run, [10**9], 1), "has no cluster"),
        (lambda db, run: move_queries(db, run, members(db, run, 1)[:1], 1), "already in"),
        (lambda db, run: move_queries(db, run, members(db, run, 1)[:1], 99), "holds no"),
        (lambda db, run: merge_clusters(db, run, [2], 2), "with itself"),
        (lambda db, run: merge_clusters(db, run, [99], 2), "holds no"),
        (lambda db, run: mark_cluster(db, run, 1, "tag", ["absent"], remove=True), "has no tag"),
        (lambda db, run: undo(db, 10**6), "does not exist"),
        (lambda db, run: tag_cluster(db, run, 1, quality="poor"), "--quality must be"),
        (lambda db, run: tag_cluster(db, run, 1, coherence=0), "--coherence must be"),
        (lambda db, run: tag_cluster(db, run, 1, ["x"], coherence=9), "--coherence must be"),
        (lambda db, run: tag_cluster(db, run, 99, quality="low"), "holds no"),
    ],
)
def test_bad_input_fails_in_one_sentence_and_changes_nothing(edited, bad, message):
    db, run_id = edited
    before = state(db)
    with pytest.raises(UserError, match=message) as raised:
        bad(db, run_id)
    assert str(raised.value).count(". ") == 0 and str(raised.value).endswith(".")
    assert state(db) == before
    with db.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ClusterEdit)).scalar_one() == 0


def test_an_undone_edit_cannot_be_undone_again(edited):
    db, run_id = edited
    edit_id = mark_cluster(db, run_id, 0, "flag", ["mixed-topics"])
    undo(db, edit_id)
    with pytest.raises(EditError, match="already undone"):
        undo(db, edit_id)


def test_split_by_ids_and_by_vectors_then_undo(edited):
    from lmsys_pipeline.curation.reshape import split_cluster

    db, run_id = edited
    before = state(db)
    original = members(db, run_id, 0)
    first = split_cluster(db, run_id, 0, query_ids=original[:4], editor="ana")
    assert members(db, run_id, 6) == original[:4]
    assert members(db, run_id, 0) == original[4:]
    assert_counts_true(db, run_id)
    second = split_cluster(db, run_id, 1, parts=3)
    [edit] = [e for e in audit(db, run_id) if e.id == second]
    assert edit.new_value["new_clusters"] == [7, 8]
    assert members(db, run_id, 7) and members(db, run_id, 8)
    undo(db, second)
    undo(db, first)
    assert state(db) == before


def test_delete_cluster_to_noise_or_into_another_then_undo(edited):
    from lmsys_pipeline.curation.reshape import delete_cluster

    db, run_id = edited
    before = state(db)
    gone = members(db, run_id, 5)
    first = delete_cluster(db, run_id, 5)
    assert members(db, run_id, -1) == gone and members(db, run_id, 5) == []
    undo(db, first)
    second = delete_cluster(db, run_id, 5, move_to=2)
    assert set(gone) <= set(members(db, run_id, 2))
    assert_counts_true(db, run_id)
    undo(db, second)
    assert state(db) == before


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda db, run: _split(db, run, 1, query_ids=[10**9]), "is not in cluster"),
        (lambda db, run: _split(db, run, 1, query_ids=members(db, run, 1)), "not none or all"),
        (lambda db, run: _split(db, run, 1, parts=1), "--parts must be"),
        (lambda db, run: _split(db, run, 1), "Give either"),
        (lambda db, run: _delete(db, run, 1, move_to=1), "its own queries"),
    ],
)
def test_bad_splits_and_deletes_change_nothing(edited, bad, message):
    db, run_id = edited
    before = state(db)
    with pytest.raises(UserError, match=message):
        bad(db, run_id)
    assert state(db) == before


def test_a_one_query_cluster_cannot_be_split(edited):
    from lmsys_pipeline.curation.reshape import split_cluster

    db, run_id = edited
    keep = members(db, run_id, 3)
    move_queries(db, run_id, keep[1:], 2)
    before = state(db)
    with pytest.raises(UserError, match="holds one query"):
        split_cluster(db, run_id, 3, parts=2)
    assert state(db) == before


def _split(db, run_id, cluster_id, **given):
    from lmsys_pipeline.curation.reshape import split_cluster

    return split_cluster(db, run_id, cluster_id, **given)


def _delete(db, run_id, cluster_id, **given):
    from lmsys_pipeline.curation.reshape import delete_cluster

    return delete_cluster(db, run_id, cluster_id, **given)


def test_planted_mixed_clusters_rank_first(edited):
    """Queries of other clusters moved into two clusters make those two the least coherent."""
    import random

    from lmsys_pipeline.curation.coherence import rank_clusters

    db, run_id = edited
    rng = random.Random(0)
    planted = [1, 4]
    for target in planted:
        donors = [c for c in range(6) if c not in planted]
        strays = [q for c in donors for q in rng.sample(members(db, run_id, c), 4)]
        move_queries(db, run_id, strays, target, reason="planted")
    ranking = rank_clusters(db, run_id)
    assert {c.cluster_id for c in ranking[:2]} == set(planted)
    assert ranking[0].misfit_depth > ranking[2].misfit_depth


def test_deleting_a_conversation_leaves_the_audit_readable_without_its_text(edited):
    """A merge keeps the merged cluster's summary rows (examples included) in the audit; after
    ``lmsys delete`` the text is gone from every column, the edit still reads and undoes."""
    from lmsys_pipeline.db.models import Query
    from lmsys_pipeline.maintenance.deletion import delete_conversations
    from lmsys_pipeline_tests.support.tables import columns_holding

    db, run_id = edited
    with db.engine.connect() as connection:
        examples = connection.execute(
            select(ClusterSummary.representative_queries).where(
                ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == 4
            )
        ).scalar_one()
        text = next(e for e in examples if len(e) > 30)
        conversation_id = (
            connection.execute(select(Query.conversation_id).where(Query.query_text == text))
            .scalars()
            .first()
        )
    edit_id = merge_clusters(db, run_id, [4], 3, editor="ana", reason="one topic")
    probe = " ".join(text.split())[:25]
    assert "cluster_edits.old_value" in columns_holding(db, probe)

    report = delete_conversations(db, [conversation_id])

    assert report.edits_scrubbed == 1
    assert columns_holding(db, probe) == []
    [row] = audit(db, run_id)
    assert (row.id, row.edit_type, row.editor, row.reason) == (edit_id, "merge", "ana", "one topic")
    undo(db, edit_id)
    assert_counts_true(db, run_id)
