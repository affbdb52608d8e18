"""The vector cache next to the database always gives what the tables hold: after new
queries, a new model, deletions, shards that commit out of order, a rebuilt database, a
refresh killed half-way; on SQLite and PostgreSQL."""

import os
from pathlib import Path

import numpy as np
import pytest

from lmsys_pipeline.db.connection import DatabaseManager, vector_cache_dir
from lmsys_pipeline.embedding import cache as cache_module
from lmsys_pipeline.embedding.cache import (
    MANIFEST,
    cached_vectors,
    model_folder,
    refresh_cache,
)
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import SearchFilters, search
from lmsys_pipeline.embedding.store import (
    load_vectors_from_db,
    register_model,
    save_chunk,
    text_hash,
)
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.support.vectors import (
    HashEmbedder,
    add_queries,
    assert_cache_matches_tables,
    manifest,
)


def test_the_cache_follows_new_queries_a_new_model_and_deletions(any_db):
    db, embedder = any_db, HashEmbedder()
    add_queries(db, 0, 120)
    embed_pending(db, embedder, chunk_size=25)
    assert refresh_cache(db, embedder.name).action == "built"
    assert_cache_matches_tables(db, embedder.name, 8)

    add_queries(db, 120, 60, distinct=70)  # questions 50-69 are new, once each
    embed_pending(db, embedder, chunk_size=25)
    report = refresh_cache(db, embedder.name)
    assert (report.action, report.links, report.rows) == ("extended", 180, 60)
    assert_cache_matches_tables(db, embedder.name, 8)

    other = HashEmbedder(name="hash-4", dimension=4)
    embed_pending(db, other)
    assert_cache_matches_tables(db, other.name, 4)
    assert model_folder(db, other.name) != model_folder(db, embedder.name)
    assert manifest(db, other.name)["links"] == 180

    deleted_vector = embedder.embed(["question 55"])[0]
    report = delete_conversations(db, ["c0", "c1", "c125"])  # c125: the only "question 55"
    assert report.vector_caches_refreshed == 2
    assert manifest(db, embedder.name)["links"] == 177
    assert_cache_matches_tables(db, embedder.name, 8)
    assert_cache_matches_tables(db, other.name, 4)
    folder = model_folder(db, embedder.name)
    rows = np.fromfile(folder / manifest(db, embedder.name)["files"]["vectors"], "<f4")
    # Deleted on request means gone from the disk too, not only unreachable.
    assert not np.any(np.all(np.isclose(rows.reshape(-1, 8), deleted_vector), axis=1))


def test_a_deletion_from_another_machine_is_noticed_at_the_next_load(sqlite_db, tmp_path):
    db, embedder = sqlite_db, HashEmbedder()
    add_queries(db, 0, 50)
    embed_pending(db, embedder)
    refresh_cache(db, embedder.name)
    elsewhere = DatabaseManager(db.url, vector_cache=str(tmp_path / "other-machine"))
    delete_conversations(elsewhere, ["c3"])
    assert manifest(db, embedder.name)["links"] == 50  # this machine's files were not touched
    assert 4 not in load_vectors(db, embedder.name).query_ids  # c3 is query 4
    assert_cache_matches_tables(db, embedder.name, 8)


def test_shards_that_commit_out_of_order_are_picked_up(any_db):
    db, embedder = any_db, HashEmbedder()
    add_queries(db, 0, 100, distinct=100)
    register_model(db, embedder.name, 8, "test")
    texts = {i: f"question {i}" for i in range(1, 101)}

    def commit(query_ids):
        vectors = embedder.embed([texts[i] for i in query_ids])
        with db.engine.begin() as connection:
            save_chunk(
                connection,
                embedder.name,
                {text_hash(texts[i]): v for i, v in zip(query_ids, vectors, strict=True)},
                [(i, text_hash(texts[i])) for i in query_ids],
            )

    commit(list(range(2, 101, 2)))  # shard 0 finished first
    refresh_cache(db, embedder.name)
    commit(list(range(1, 100, 2)))  # shard 1's query ids are all below the cached maximum
    assert refresh_cache(db, embedder.name).action == "resynced"
    assert_cache_matches_tables(db, embedder.name, 8)
    assert len(load_vectors(db, embedder.name).query_ids) == 100


def test_a_database_rebuilt_at_the_same_path_is_not_served_the_old_cache(tmp_path):
    path = tmp_path / "queries.db"
    db = DatabaseManager(path)
    add_queries(db, 0, 30)
    embed_pending(db, HashEmbedder())
    load_vectors(db, "hash-8")
    db.dispose()
    path.unlink()
    db = DatabaseManager(path)
    add_queries(db, 0, 10, distinct=5)
    embed_pending(db, HashEmbedder())
    assert len(load_vectors(db, "hash-8").query_ids) == 10
    assert_cache_matches_tables(db, "hash-8", 8)
    db.dispose()


def test_a_refresh_killed_before_its_manifest_leaves_a_correct_cache(sqlite_db, monkeypatch):
    db, embedder = sqlite_db, HashEmbedder()
    add_queries(db, 0, 40)
    embed_pending(db, embedder)
    refresh_cache(db, embedder.name)
    add_queries(db, 40, 40, distinct=80)
    embed_pending(db, embedder)

    def killed(*_args):
        raise KeyboardInterrupt("killed after the files, before the manifest")

    monkeypatch.setattr(cache_module, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        refresh_cache(db, embedder.name)
    monkeypatch.undo()
    assert manifest(db, embedder.name)["links"] == 40  # the old manifest, longer files
    assert_cache_matches_tables(db, embedder.name, 8)
    assert manifest(db, embedder.name)["links"] == 80


def test_a_subset_never_builds_a_cache_and_off_means_none(sqlite_db, tmp_path):
    db, embedder = sqlite_db, HashEmbedder()
    add_queries(db, 0, 30)
    embed_pending(db, embedder)
    assert cached_vectors(db, embedder.name, 8, [1, 2]) is None  # not built for a subset
    assert not (model_folder(db, embedder.name) / MANIFEST).exists()
    off = DatabaseManager(db.url, vector_cache="off")
    assert off.vector_cache_dir is None and model_folder(off, embedder.name) is None
    assert refresh_cache(off, embedder.name).action == "none"
    assert len(load_vectors(off, embedder.name).query_ids) == 30


def test_where_caches_live(tmp_path, monkeypatch):
    monkeypatch.delenv("LMSYS_VECTOR_CACHE", raising=False)
    assert vector_cache_dir(f"sqlite:///{tmp_path}/q.db") == Path(f"{tmp_path}/q.db.vectors")
    assert vector_cache_dir("sqlite://") is None
    home = Path(os.environ["HOME"])
    first = vector_cache_dir("postgresql+psycopg://ana:secret@db-host:5432/lmsys")
    second = vector_cache_dir("postgresql+psycopg://ana:other@db-host:5432/lmsys")
    assert first == second and first.parent == home / ".lmsys-query-analysis/vector-cache"
    assert "secret" not in str(first) and first.name.startswith("postgresql+psycopg-")
    assert first != vector_cache_dir("postgresql+psycopg://ana@db-host:5432/other")
    monkeypatch.setenv("LMSYS_VECTOR_CACHE", str(tmp_path / "caches"))
    assert vector_cache_dir(f"sqlite:///{tmp_path}/q.db").parent == tmp_path / "caches"
    monkeypatch.setenv("LMSYS_VECTOR_CACHE", "off")
    assert vector_cache_dir("postgresql+psycopg://db-host/lmsys") is None


def test_search_through_the_cache_equals_brute_force_with_filters_first(any_db):
    db, embedder = any_db, HashEmbedder()
    add_queries(db, 0, 300, distinct=300)
    embed_pending(db, embedder)
    refresh_cache(db, embedder.name)
    direct = load_vectors_from_db(db, embedder.name, 8)
    query = embedder.embed(["question 7"])[0]
    scores = direct.for_queries() @ query
    for filters, keep in [
        (SearchFilters(), np.ones(len(scores), bool)),
        (SearchFilters(language="rare"), (direct.query_ids - 1) % 10 == 0),
    ]:
        hits = search(db, embedder, "question 7", top=10, filters=filters)
        best = np.argsort(-np.where(keep, scores, -np.inf), kind="stable")[:10]
        assert [h.query_id for h in hits] == direct.query_ids[best].tolist()  # recall@10 = 1


def test_clustering_reads_its_vectors_through_the_cache(sqlite_db):
    from lmsys_pipeline.clustering.params import KMeansParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run

    db, embedder = sqlite_db, HashEmbedder()
    add_queries(db, 0, 90, distinct=30)
    embed_pending(db, embedder)
    params = KMeansParams(n_clusters=3, embedding_model=embedder.name, reduction="none")
    result, vectors = materialize_run(db, register_run(db, params).run_id)
    assert manifest(db, embedder.name)["links"] == 90  # the run's full load built the cache
    direct = load_vectors_from_db(db, embedder.name, 8)
    np.testing.assert_array_equal(result.query_ids, direct.query_ids)
    np.testing.assert_array_equal(vectors, direct.for_queries())
