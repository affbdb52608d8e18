"""A vector cache whose files were changed behind its back (bits flipped, ids swapped, even
with its checksums rewritten to match) never answers: it is rebuilt with one warning naming
what was damaged, or the tables answer. Vectors broken in the tables themselves are left out
of a search and refused by clustering, in one sentence."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from lmsys_pipeline.clustering.fit import ClusteringInputError
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import QueryCluster
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding import cache_check, cache_files
from lmsys_pipeline.embedding.cache import MANIFEST, model_folder, refresh_cache
from lmsys_pipeline.embedding.cache_check import block_digests
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import search
from lmsys_pipeline.embedding.store import load_vectors_from_db
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.support.vectors import (
    HashEmbedder,
    add_queries,
    assert_cache_matches_tables,
    manifest,
)

MODEL = HashEmbedder().name


def cached(db: DatabaseManager, count: int = 300) -> HashEmbedder:
    embedder = HashEmbedder()
    add_queries(db, 0, count, distinct=count)
    embed_pending(db, embedder)
    assert refresh_cache(db, embedder.name).action == "built"
    return embedder


def cache_file(db: DatabaseManager, name: str) -> Path:
    return model_folder(db, MODEL) / manifest(db, MODEL)["files"][name]


def flip_first_half(path: Path) -> None:
    """The issue's damage: the first half of the file XORed with 0x55."""
    data = np.fromfile(path, dtype=np.uint8)
    data[: len(data) // 2] ^= 0x55
    data.tofile(path)


def rewrite_checksums(db: DatabaseManager) -> None:
    """A manifest made to vouch for damaged files (by hand, or by another program)."""
    folder = model_folder(db, MODEL)
    data = manifest(db, MODEL)
    checksums = data.setdefault("checksums", {})  # the code before checksums had none
    for name, file_name in data["files"].items():
        checksums[name] = block_digests(np.fromfile(folder / file_name, np.uint8))
    (folder / MANIFEST).write_text(json.dumps(data))


def brute_force(db: DatabaseManager, embedder: HashEmbedder, text: str, k: int) -> list[int]:
    direct = load_vectors_from_db(db, MODEL, embedder.dimension)
    scores = direct.for_queries() @ embedder.embed([text])[0]
    return direct.query_ids[np.argsort(-scores, kind="stable")[:k]].tolist()


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_flipped_vectors_are_rebuilt_with_one_warning_and_search_stays_exact(any_db, caplog):
    db = any_db
    embedder = cached(db)
    damaged = cache_file(db, "vectors")
    flip_first_half(damaged)
    with caplog.at_level(logging.WARNING):
        hits = search(db, embedder, "question 7", top=5)
    assert [h.query_id for h in hits] == brute_force(db, embedder, "question 7", 5)
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    [warning] = warnings_of(caplog)
    assert damaged.name in warning and "rebuilt" in warning
    assert not damaged.exists()  # rebuilt into new files
    assert_cache_matches_tables(db, MODEL, 8)
    assert len(warnings_of(caplog)) == 1


def test_swapped_query_ids_never_pair_one_text_with_another_score(sqlite_db, caplog):
    db = sqlite_db
    embedder = cached(db)
    damaged = cache_file(db, "query_ids")
    ids = np.fromfile(damaged, "<i8")
    ids[[11, 200]] = ids[[200, 11]]  # queries 12 ("question 11") and 201
    ids.tofile(damaged)
    with caplog.at_level(logging.WARNING):
        hits = search(db, embedder, "question 11", top=3)
    assert [h.query_id for h in hits] == brute_force(db, embedder, "question 11", 3)
    assert hits[0].query_text == "question 11" and hits[0].score == pytest.approx(1.0)
    [warning] = warnings_of(caplog)
    assert damaged.name in warning


def test_ids_are_checked_even_when_the_checksums_were_rewritten(sqlite_db, caplog):
    db = sqlite_db
    cached(db)
    damaged = cache_file(db, "query_ids")
    ids = np.fromfile(damaged, "<i8")
    ids[[11, 200]] = ids[[200, 11]]  # queries 12 ("question 11") and 201
    ids.tofile(damaged)
    rewrite_checksums(db)
    with caplog.at_level(logging.WARNING):
        assert_cache_matches_tables(db, MODEL, 8)
    [warning] = warnings_of(caplog)
    assert f"{damaged.name} is not strictly ascending" in warning


def test_scores_no_unit_vector_gives_set_the_cache_aside(sqlite_db, caplog):
    """The last line of defence: vectors scaled by 1,000 with checksums to match."""
    db = sqlite_db
    embedder = cached(db)
    damaged = cache_file(db, "vectors")
    (np.fromfile(damaged, "<f4") * 1000).astype("<f4").tofile(damaged)
    rewrite_checksums(db)
    with caplog.at_level(logging.WARNING):
        hits = search(db, embedder, "question 7", top=5)
    assert [h.query_id for h in hits] == brute_force(db, embedder, "question 7", 5)
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    [warning] = warnings_of(caplog)
    assert "outside [-1, 1]" in warning and "rebuilt at the next load" in warning
    assert not (model_folder(db, MODEL) / MANIFEST).exists()
    assert_cache_matches_tables(db, MODEL, 8)


def test_a_subset_verifies_the_blocks_it_reads(sqlite_db, caplog, monkeypatch):
    """Blocks of 256 bytes (8 rows of 8 floats): damage in the last block does not stop a
    load of the first rows (nothing there is wrong), and is found by a load that reads it."""
    for module in (cache_check, cache_files):
        monkeypatch.setattr(module, "BLOCK", 256)
    db = sqlite_db
    cached(db, count=100)
    damaged = cache_file(db, "vectors")
    data = np.fromfile(damaged, np.uint8)
    data[-1] ^= 0x55  # the last row: query 100's text
    data.tofile(damaged)
    with caplog.at_level(logging.WARNING):
        first = load_vectors(db, MODEL, [1, 2, 3])
        assert first.from_cache and not warnings_of(caplog)
        np.testing.assert_array_equal(
            first.for_queries(), load_vectors_from_db(db, MODEL, 8, [1, 2, 3]).for_queries()
        )
        last = load_vectors(db, MODEL, [1, 100])
    np.testing.assert_array_equal(
        last.for_queries(), load_vectors_from_db(db, MODEL, 8, [1, 100]).for_queries()
    )
    [warning] = warnings_of(caplog)
    assert f"{damaged.name} does not match its checksum in block 13 of 13" in warning


def _break_vectors_in_the_tables(db: DatabaseManager, query_ids: list[int]) -> None:
    values = [np.full(8, np.nan, "<f4"), np.full(8, np.inf, "<f4")]
    with db.engine.begin() as connection:
        for query_id, value in zip(query_ids, values, strict=True):
            text_id = connection.execute(
                select(QueryEmbedding.text_embedding_id).where(QueryEmbedding.query_id == query_id)
            ).scalar_one()
            connection.execute(
                update(TextEmbedding)
                .where(TextEmbedding.id == text_id)
                .values(vector=value.tobytes())
            )


def test_clustering_refuses_vectors_that_are_not_finite_in_one_sentence(sqlite_db):
    db = DatabaseManager(sqlite_db.url, vector_cache="off")
    add_queries(db, 0, 120, distinct=120)
    embed_pending(db, HashEmbedder())
    _break_vectors_in_the_tables(db, [7, 9])
    run = register_run(db, KMeansParams(n_clusters=4, embedding_model=MODEL, reduction="pca"))
    with pytest.raises(ClusteringInputError) as refused:
        materialize_run(db, run.run_id)
    assert str(refused.value) == (
        "2 of the 120 query vectors are not finite numbers (e.g. query id 7), so they cannot "
        "be clustered: delete those conversations with lmsys delete, then load and embed them "
        "again."
    )
    db.dispose()


def test_search_leaves_out_vectors_broken_in_the_tables(sqlite_db, caplog):
    db = DatabaseManager(sqlite_db.url, vector_cache="off")
    embedder = HashEmbedder()
    add_queries(db, 0, 50, distinct=50)
    embed_pending(db, embedder)
    _break_vectors_in_the_tables(db, [7, 9])
    with caplog.at_level(logging.WARNING):
        hits = search(db, embedder, "question 3", top=49)
    assert len(hits) == 48 and {7, 9}.isdisjoint(h.query_id for h in hits)
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    [warning] = warnings_of(caplog)
    assert warning.startswith("2 stored vectors of hash-8 are not finite or far from unit length")
    db.dispose()


@pytest.mark.slow  # an lmsys process: the issue's own command
@pytest.mark.subprocess
def test_lmsys_cluster_on_a_flipped_cache_rebuilds_it_and_clusters_right(
    embedded_db, tmp_path: Path
):
    db = embedded_db
    model = "all-MiniLM-L6-v2"
    load_vectors(db, model)  # builds the cache
    folder = model_folder(db, model)
    damaged = folder / json.loads((folder / MANIFEST).read_text())["files"]["vectors"]
    flip_first_half(damaged)
    lmsys = Path(sys.executable).parent / "lmsys"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    command = [str(lmsys), "cluster", "kmeans", "-k", "10", "--reduction", "pca", "-q"]
    done = subprocess.run(
        [*command, "--db-url", db.url, "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stderr.splitlines() if "vector cache" in line]
    assert len(warnings) == 1 and damaged.name in warnings[0], done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    with db.engine.connect() as connection:
        labels = connection.execute(
            select(QueryCluster.cluster_id).where(QueryCluster.run_id == run_id)
        ).scalars()
        sizes = np.bincount(list(labels))
    assert sizes.sum() == 600 and sizes.max() < 0.3 * 600, sizes
    assert_cache_matches_tables(db, model, 384)


def test_a_cache_emptied_by_deletions_verifies_and_loads_empty(sqlite_db):
    db = sqlite_db
    cached(db, count=5)
    delete_conversations(db, [f"c{i}" for i in range(5)])
    assert manifest(db, MODEL)["rows"] == 0
    loaded = load_vectors(db, MODEL)
    assert loaded.from_cache and loaded.vectors.shape == (0, 8) and not len(loaded.query_ids)
