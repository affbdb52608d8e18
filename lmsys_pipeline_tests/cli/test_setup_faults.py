"""Common setup faults end in one sentence (``Error: ...`` on stderr, exit 1), through the real
``lmsys`` entry point: a read-only database, an unusable DAGSTER_HOME, an unknown URL scheme,
an unreachable server, a file that is not a database, another application's database, a
search before anything was embedded and whole numbers the database cannot hold. No traceback,
no Dagster wrapper and never the URL's password."""

import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import bundled_sample_path, open_source
from lmsys_pipeline_tests.cli.terminal import piped

SECRET = "s3cret-Pw"
BIG = "12345678901234567890123"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}


def one_sentence(completed: subprocess.CompletedProcess, *expected: str) -> str:
    """The single ``Error:`` line of a command that failed as a user fault should."""
    everything = completed.stdout + completed.stderr
    assert completed.returncode == 1, everything
    assert completed.stdout == "", everything
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), everything
    assert "Traceback" not in everything and "DagsterExecution" not in everything, everything
    assert "Dagster UI" not in everything, everything
    assert SECRET not in everything
    for text in expected:
        assert text in lines[0], everything
    return lines[0]


def loaded_db(path: Path, queries: int = 20) -> Path:
    db = DatabaseManager(path)
    ingest_batches(db, open_source(None).batches(1000), limit=queries)
    db.dispose()
    return path


def _run_as_root(command: list[str], what: str) -> None:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        pytest.skip(f"{what} is not permitted here: {completed.stderr.strip()}")


@contextmanager
def read_only_filesystem(folder: Path) -> Iterator[Path]:
    """A fresh tmpfs at ``folder``; ``remount(folder)`` below makes it read-only. Root ignores
    permission bits, so a read-only mount is what stops its writes."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only filesystem needs root")
    folder.mkdir()
    _run_as_root(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], "mount")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount_read_only(folder: Path) -> None:
    _run_as_root(["mount", "-o", "remount,ro", str(folder)], "mount -o remount,ro")


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) that cannot be written: read-only permission bits, or
    for root (whom they do not stop) the immutable attribute."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed, and root ignores permission bits")
    _run_as_root(["chattr", "+i", str(path)], "chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.mark.subprocess
def test_load_into_a_read_only_database_file_says_so(tmp_path, env):
    """The file cannot be written but its folder can: SQLite opens it, and the first write
    inside the Dagster run fails (today: a causeless DagsterExecutionStepExecutionError)."""
    path = loaded_db(tmp_path / "queries.db")
    with unwritable(path):
        failed = piped(["load", "--limit", "40", "--db-url", str(path)], env)
        one_sentence(failed, f"The database {path} is read-only", "writable")
        assert piped(["runs", "--db-url", str(path), "--json"], env).returncode == 0


@pytest.mark.subprocess
def test_a_database_on_a_read_only_filesystem_says_so(tmp_path, env):
    with read_only_filesystem(tmp_path / "mount") as folder:
        path = loaded_db(folder / "queries.db")
        remount_read_only(folder)
        for args in (["load", "--limit", "40"], ["runs"]):
            failed = piped([*args, "--db-url", str(path)], env)
            one_sentence(failed, f"The database {path} is read-only")
        new = folder / "new" / "queries.db"
        one_sentence(piped(["runs", "--db-url", str(new)], env), "Cannot create the folder")


@pytest.mark.subprocess
def test_an_unusable_dagster_home_says_so(tmp_path, env):
    database = str(tmp_path / "queries.db")
    a_file = tmp_path / "home.txt"
    a_file.write_text("not a folder")
    failed = piped(
        ["load", "--limit", "5", "--db-url", database], {**env, "DAGSTER_HOME": str(a_file)}
    )
    one_sentence(failed, f"DAGSTER_HOME {a_file} is a file", "set DAGSTER_HOME")
    home = tmp_path / "locked_home"
    home.mkdir()
    with unwritable(home):
        failed = piped(
            ["load", "--limit", "5", "--db-url", database], {**env, "DAGSTER_HOME": str(home)}
        )
        one_sentence(failed, f"DAGSTER_HOME {home}", "writable folder")


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://user:{SECRET}@127.0.0.1:5432/lmsys",
        f"mysql://user:{SECRET}@127.0.0.1:3306/lmsys",
        f"nosuchdb+driver://user:{SECRET}@127.0.0.1/lmsys",
    ],
)
@pytest.mark.subprocess
def test_an_unknown_url_scheme_names_the_right_one(url, env):
    one_sentence(piped(["runs", "--db-url", url], env), "postgresql+psycopg://")
    if url.startswith("postgres:"):
        from_variable = piped(["load", "--limit", "5"], {**env, "LMSYS_DB_URL": url})
        one_sentence(from_variable, "postgresql+psycopg://", "$LMSYS_DB_URL")


@pytest.mark.subprocess
def test_an_unreachable_server_is_named_by_host_and_port(env):
    with socket.socket() as holder:  # bound, never listening: connections are refused
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        url = f"postgresql+psycopg://user:{SECRET}@127.0.0.1:{port}/lmsys"
        for args in (["runs"], ["search", "card"], ["load", "--limit", "5"]):
            failed = piped([*args, "--db-url", url], env)
            one_sentence(failed, f"Cannot connect to the database at 127.0.0.1:{port}", "start")


@pytest.mark.subprocess
def test_a_rejected_login_is_one_sentence_without_the_password(postgres_url, env):
    url = postgres_url.replace("postgres@", f"nobody:{SECRET}@", 1)
    one_sentence(piped(["runs", "--db-url", url], env), 'role "nobody" does not exist', "user")


@pytest.mark.subprocess
def test_a_file_that_is_not_a_database_says_so(tmp_path, env):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    parquet = tmp_path / "sample.parquet"
    shutil.copyfile(bundled_sample_path(), parquet)
    for given, args in (
        (f"sqlite:///{text}", ["runs"]),
        (str(text), ["load", "--limit", "5"]),
        (f"sqlite:///{parquet}", ["search", "card"]),
    ):
        shown = given.removeprefix("sqlite:///")
        one_sentence(piped([*args, "--db-url", given], env), f"{shown} is not a SQLite database")
    assert text.read_text() == "hello\n" * 100
    assert parquet.read_bytes() == bundled_sample_path().read_bytes()


@pytest.mark.subprocess
def test_another_applications_database_is_refused_before_anything_is_written(tmp_path, env):

    (tmp_path / "theirs").mkdir()
    path = tmp_path / "theirs" / "theirs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE queries (id INTEGER PRIMARY KEY, sql TEXT)")
        connection.execute("INSERT INTO queries (sql) VALUES ('SELECT 1')")
    connection.close()
    before, files = path.read_bytes(), sorted(path.parent.iterdir())
    for args in (["load", "--limit", "5"], ["runs"], ["search", "card"]):
        failed = piped([*args, "--db-url", str(path)], env)
        one_sentence(failed, "another application's database", "a table queries without")
        assert path.read_bytes() == before
        assert sorted(path.parent.iterdir()) == files


@pytest.mark.subprocess
def test_a_reference_tool_database_is_not_foreign(tmp_path, env):
    """The seed's tables with the seed's columns (and more) are this pipeline's."""

    path = tmp_path / "reference.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE queries (id INTEGER PRIMARY KEY, conversation_id TEXT UNIQUE, "
            "model TEXT, query_text TEXT, language TEXT, extra_metadata JSON, "
            "created_at DATETIME, their_note TEXT)"
        )
    connection.close()
    assert piped(["runs", "--db-url", str(path), "--json"], env).stdout.strip() == "[]"


@pytest.mark.subprocess
def test_search_before_anything_was_embedded_says_what_to_run(tmp_path, env):
    path = loaded_db(tmp_path / "queries.db")
    failed = piped(["search", "refund my card", "--db-url", str(path)], env)
    one_sentence(failed, "Nothing is embedded yet", "lmsys embed")


def test_a_model_without_vectors_is_a_user_error(sqlite_db):
    from lmsys_pipeline.embedding.loading import load_vectors
    from lmsys_pipeline.errors import UserError

    with pytest.raises(UserError, match="No vectors are stored for model other-model"):
        load_vectors(sqlite_db, "other-model")


OUT_OF_RANGE = [
    ["edit", "view-query", BIG],
    ["edit", "move-queries", "run", "--query-ids", f"1,{BIG}", "--to-cluster", "0"],
    ["edit", "move-query", "run", BIG, "--to-cluster", "0"],
    ["edit", "move-query", "run", "1", "--to-cluster", BIG],
    ["edit", "undo", BIG],
    ["edit", "history", "run", "--query-id", BIG],
    ["inspect", "run", BIG],
    ["inspect", "run", "0", "--show-queries", BIG],
    ["list-clusters", "run", "--limit", BIG],
    ["list-clusters", "run", "--show-examples", BIG],
    ["search", "card", "--run-id", "run", "--cluster-id", BIG],
    ["load", "--limit", BIG],
    ["cluster", "kmeans", "-k", "3", "--seed", BIG],
]


@pytest.mark.parametrize("args", OUT_OF_RANGE, ids=lambda args: " ".join(args[:2]))
def test_whole_numbers_beyond_the_database_are_refused(args, sqlite_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    result = runner.invoke(app, [*args, "--db-url", str(sqlite_db.url)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and "is out of range" in result.output
    assert BIG in result.output and "2147483647" in result.output


def test_ids_beyond_postgresqls_integers_are_refused(postgres_db, tmp_path, monkeypatch):
    """3,000,000,000 fits SQLite's integers but not PostgreSQL's INTEGER columns."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    url = postgres_db.engine.url.render_as_string(hide_password=False)
    for args in (["edit", "view-query", "3000000000"], ["edit", "undo", "3000000000"]):
        result = runner.invoke(app, [*args, "--db-url", url])
        assert result.exit_code == 1 and "3000000000 is out of range" in result.output, args


def test_a_database_fault_inside_a_run_reaches_the_cli_as_its_sentence(tmp_path, monkeypatch):
    """A resource that cannot open its database fails the run; the CLI reports the cause, not
    Dagster's 'see the UI'."""
    from lmsys_pipeline.cli.failures import run_failure_message
    from lmsys_pipeline.cli.launch import dagster_instance, materialize
    from lmsys_pipeline.defs.resources import DatabaseResource

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        url = f"postgresql+psycopg://user:{SECRET}@127.0.0.1:{port}/lmsys"
        with dagster_instance() as instance:
            result = materialize(
                instance,
                "lmsys_queries",
                {"limit": 5},
                verbose=False,
                quiet=True,
                resources={"database": DatabaseResource(url=url)},
            )
    message = run_failure_message(result)
    assert not result.success
    assert message.startswith(f"Cannot connect to the database at 127.0.0.1:{port}"), message
    assert SECRET not in message
