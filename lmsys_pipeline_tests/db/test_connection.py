from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from lmsys_pipeline.db.connection import DatabaseManager, redact_url, to_db_url
from lmsys_pipeline.db.models import ClusteringRun, Query, QueryCluster


def test_file_path_with_tilde_creates_parent_folders(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    db = DatabaseManager("~/deep/nested/queries.db")
    assert (tmp_path / "deep/nested/queries.db").exists()
    assert db.url == f"sqlite:///{tmp_path}/deep/nested/queries.db"


def test_default_location_and_env_override(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert DatabaseManager().url == f"sqlite:///{tmp_path}/.lmsys-query-analysis/queries.db"
    monkeypatch.setenv("LMSYS_DB_URL", f"sqlite:///{tmp_path}/other.db")
    assert DatabaseManager().url == f"sqlite:///{tmp_path}/other.db"


def test_sqlite_pragmas_on_every_connection(sqlite_db: DatabaseManager):
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000


def test_foreign_keys_are_enforced(any_db: DatabaseManager):
    with any_db.get_session() as session:
        session.add(QueryCluster(run_id="no-such-run", query_id=12345, cluster_id=1))
        with pytest.raises(IntegrityError):
            session.commit()


def test_conversation_id_is_unique(any_db: DatabaseManager):
    with any_db.get_session() as session:
        session.add(Query(conversation_id="same", model="m", query_text="a"))
        session.commit()
        session.add(Query(conversation_id="same", model="m", query_text="b"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_naive_timestamps_are_refused(sqlite_db: DatabaseManager):
    with sqlite_db.get_session() as session:
        session.add(ClusteringRun(run_id="r", algorithm="kmeans", created_at=datetime(2025, 1, 1)))
        with pytest.raises((StatementError, ValueError)):
            session.commit()


def test_urls_pass_through_and_passwords_are_redacted(postgres_url: str):
    url = postgres_url.replace("postgres@", "postgres:s3cret@")
    assert to_db_url(url) == url
    assert "s3cret" not in redact_url(url)
    db = DatabaseManager(url)  # trust auth ignores the password; the URL still carries it
    assert "s3cret" not in repr(db) and "s3cret" not in db.safe_url
    assert db.safe_url.startswith("postgresql+psycopg://postgres:***@127.0.0.1")
    db.dispose()
