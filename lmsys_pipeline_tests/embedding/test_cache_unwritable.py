"""A vector cache that cannot be written (a read-only folder, a root that is a file) never
stops a command: a current cache is read, anything else reads the tables with one warning.
A deletion leaves no deleted vector in any file it can reach, and says in one sentence which
folder it could not scrub and how to remove it.

The tests run as root, where file modes do not stop writes: a folder is made read-only with a
read-only bind mount of itself, and kept from gaining or losing files with ``chattr +i``;
each test is skipped, with the reason, where that facility is missing."""

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.embedding.cache import MANIFEST, model_folder, refresh_cache
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.embedding.search import search
from lmsys_pipeline.embedding.store import load_vectors_from_db
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.embedding.conftest import load_rows
from lmsys_pipeline_tests.support.vectors import HashEmbedder, add_queries

MODEL = HashEmbedder().name
runner = CliRunner()


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for everyone, root included: bound onto itself, then remounted
    read-only."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    bound = _run("mount", "--bind", str(folder), str(folder))
    if bound.returncode:
        pytest.skip(f"mount --bind is not permitted here: {bound.stderr.strip()}")
    try:
        remounted = _run("mount", "-o", "remount,ro,bind", str(folder))
        if remounted.returncode:
            pytest.skip(f"a read-only remount is not permitted here: {remounted.stderr.strip()}")
        yield
    finally:
        _run("umount", "-l", str(folder))  # lazy: maps still open in this process end it


@contextmanager
def immutable(folder: Path) -> Iterator[None]:
    """No file can be created in, renamed in or removed from ``folder``; its files stay
    writable."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr(1) is not installed")
    made = _run("chattr", "+i", str(folder))
    if made.returncode:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()}")
    try:
        yield
    finally:
        _run("chattr", "-i", str(folder))


def cached(db: DatabaseManager, count: int = 60) -> HashEmbedder:
    embedder = HashEmbedder()
    add_queries(db, 0, count, distinct=count)
    embed_pending(db, embedder)
    assert refresh_cache(db, MODEL).action == "built"
    return embedder


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def same_as_tables(db: DatabaseManager, model: str = MODEL, dimension: int = 8) -> bool:
    loaded, direct = load_vectors(db, model), load_vectors_from_db(db, model, dimension)
    return bool(
        np.array_equal(loaded.query_ids, direct.query_ids)
        and np.array_equal(loaded.for_queries(), direct.for_queries())
    )


@pytest.mark.subprocess
def test_a_read_only_cache_is_read_while_current_then_the_tables_with_one_warning(
    sqlite_db, caplog
):
    db = sqlite_db
    embedder = cached(db)
    folder = model_folder(db, MODEL)
    with read_only(folder), caplog.at_level(logging.WARNING):
        current = load_vectors(db, MODEL)
        assert current.from_cache and not warnings_of(caplog)
        assert [h.query_id for h in search(db, embedder, "question 5", top=1)] == [6]
        del current
        add_queries(db, 60, 10, distinct=70)
        embed_pending(db, embedder)
        assert same_as_tables(db) and same_as_tables(db)  # twice: still one warning
        assert search(db, embedder, "question 65", top=1)[0].query_id == 66
        [warning] = warnings_of(caplog)
    assert warning.startswith(f"The vector cache {folder} cannot be written (Read-only file")
    assert warning.endswith("set LMSYS_VECTOR_CACHE to another folder or to off.")


def test_a_cache_root_that_is_a_file_reads_the_tables_with_one_warning(sqlite_db, tmp_path, caplog):
    add_queries(sqlite_db, 0, 30)
    embed_pending(sqlite_db, HashEmbedder())
    root = tmp_path / "not-a-folder"
    root.write_text("")
    db = DatabaseManager(sqlite_db.url, vector_cache=str(root))
    with caplog.at_level(logging.WARNING):
        assert same_as_tables(db)
        assert refresh_cache(db, MODEL).action == "unwritable"
    [warning] = warnings_of(caplog)
    assert f"({root} is a file, not a folder)" in warning
    db.dispose()


def _holds(folder: Path, vector: np.ndarray) -> list[str]:
    """The files in ``folder`` that hold ``vector`` at a row boundary."""
    return [
        path.name
        for path in folder.iterdir()
        if path.name.startswith("vectors-")
        and np.any(np.all(np.fromfile(path, "<f4").reshape(-1, 8) == vector, axis=1))
    ]


@pytest.mark.subprocess
def test_delete_with_a_read_only_cache_names_the_folder_that_still_holds_vectors(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = DatabaseManager(tmp_path / "q.db")
    embedder = cached(db)
    folder = model_folder(db, MODEL)
    deleted = embedder.embed(["question 3"])[0]  # conversation c3's text, its only query
    with read_only(folder):
        result = runner.invoke(app, ["delete", "--conversation-id", "c3", "--db-url", db.url])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "Deleted 1 conversations" in result.stdout
        assert result.stderr.strip().replace("\n", " ") == (
            f"Error: The vector cache {folder} still holds the deleted queries' vectors "
            f"(Read-only file system): remove it with `rm -r {folder}` once it can be written "
            "(e.g. after remounting it read-write)."
        )
        assert 4 not in load_vectors(db, MODEL).query_ids  # and no load serves it
        assert same_as_tables(db)
    assert _holds(folder, deleted)  # the truth the sentence told
    db.dispose()


@pytest.mark.subprocess
def test_delete_empties_cache_files_it_cannot_unlink(sqlite_db):
    db = sqlite_db
    embedder = cached(db)
    folder = model_folder(db, MODEL)
    deleted = embedder.embed(["question 3"])[0]
    assert _holds(folder, deleted)
    with immutable(folder):
        report = delete_conversations(db, ["c3"])
        assert report.queries_deleted == 1
        assert report.vector_caches_removed == [str(folder)]
        assert not report.vector_caches_not_scrubbed
        assert not _holds(folder, deleted)
        assert all(p.stat().st_size == 0 for p in folder.iterdir())
        assert same_as_tables(db) and 4 not in load_vectors(db, MODEL).query_ids
    assert same_as_tables(db) and (folder / MANIFEST).stat().st_size > 0  # rebuilt once free
    db.dispose()


def test_delete_with_a_writable_cache_reports_it_refreshed(sqlite_db):
    db = sqlite_db
    cached(db)
    report = delete_conversations(db, ["c3"])
    assert (report.vector_caches_refreshed, report.vector_caches_removed) == (1, [])
    assert json.loads(json.dumps(report.as_dict()))["vector_caches_not_scrubbed"] == []


@pytest.mark.subprocess
def test_embed_and_cluster_commands_run_with_a_read_only_stale_cache(
    embedded_db, tmp_path: Path, monkeypatch, caplog
):
    """The issue's `lmsys cluster` ended in a causeless DagsterExecutionStepExecutionError."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    db = embedded_db
    model = "all-MiniLM-L6-v2"
    load_vectors(db, model)
    folder = model_folder(db, model)
    load_rows(db, tmp_path, ["how do I close my account", "recipe for bread"], prefix="late")
    with read_only(folder), caplog.at_level(logging.WARNING):
        embedded = runner.invoke(app, ["embed", "--db-url", db.url, "--json", "-q"])
        assert embedded.exit_code == 0, embedded.output
        assert json.loads(embedded.stdout)["vector_cache_update"] == "unwritable"
        clustered = runner.invoke(
            app, ["cluster", "kmeans", "-k", "4", "--reduction", "pca", "--db-url", db.url, "-q"]
        )
        assert clustered.exit_code == 0, clustered.output
        assert "4 clusters over 602 queries" in clustered.stdout
        warnings = [w for w in warnings_of(caplog) if "vector cache" in w]
    assert warnings == [
        f"The vector cache {folder} cannot be written (Read-only file system), so vectors are "
        "read from the database (slower): make the folder writable or delete it, or set "
        "LMSYS_VECTOR_CACHE to another folder or to off."
    ]
