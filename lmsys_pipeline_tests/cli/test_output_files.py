"""Commands that write a file refuse a folder, an existing file (unless --force) and anything
that is not a regular file in one sentence, and never leave half a file, even on a full disk."""

import os
import re
import socket
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline_tests.cli.terminal import piped

runner = CliRunner()


def test_export_to_a_folder_or_over_a_file_says_what_to_do(results, tmp_path: Path):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    folder = tmp_path / "out"
    folder.mkdir()

    into_folder = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", f"{folder}/", "--db-url", url]
    )
    assert into_folder.exit_code == 1
    assert into_folder.output.startswith(f"Error: {folder} is a folder: give a file name")
    assert "Traceback" not in into_folder.output

    target = folder / "run.csv"
    first = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--db-url", url]
    )
    assert first.exit_code == 0 and target.stat().st_size > 0
    target.write_text("keep me")
    again = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--db-url", url]
    )
    assert again.exit_code == 1 and "already exists: pass --force" in again.output
    assert target.read_text() == "keep me"
    forced = runner.invoke(
        app, ["export", run_id, "--format", "csv", "-o", str(target), "--force", "--db-url", url]
    )
    assert forced.exit_code == 0 and target.read_text().startswith("query_id")
    assert sorted(p.name for p in folder.iterdir()) == ["run.csv"]  # no partial file left


def test_the_map_refuses_to_overwrite_too(results, tmp_path: Path):
    db, run_id = results
    existing = tmp_path / "map.html"
    existing.write_text("mine")
    result = runner.invoke(
        app, ["map", run_id, "-o", str(existing), "--db-url", f"sqlite:///{db.engine.url.database}"]
    )
    assert result.exit_code == 1 and "already exists: pass --force" in result.output
    assert existing.read_text() == "mine"


def _special(kind: str, folder: Path) -> Path:
    """A file of ``kind`` in ``folder`` (the test is skipped where it cannot be made)."""
    if kind == "char device":  # /dev/null's numbers: harmless if a regression wrote to it
        path = folder / "device"
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("creating a device node needs root (CAP_MKNOD)")
    elif kind == "fifo":
        path = folder / "fifo"
        os.mkfifo(path)
    elif kind == "socket":
        path = folder / "socket"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
    elif kind == "dangling link":
        path = folder / "dangling"
        path.symlink_to(folder / "nothing")
    else:  # "link to <kind>"
        path = folder / "link"
        path.symlink_to(_special(kind.removeprefix("link to "), folder))
    return path


def _identity(path: Path) -> tuple[int, int, int]:
    found = path.lstat()
    return found.st_mode, found.st_ino, found.st_rdev


@pytest.mark.parametrize(
    "kind",
    ["char device", "fifo", "socket", "link to char device", "link to fifo", "dangling link"],
)
@pytest.mark.subprocess
def test_force_never_replaces_a_file_that_is_not_a_regular_file(results, tmp_path: Path, kind):
    """Refused in one sentence before any work, and left as it was. Run as a separate process
    with a timeout: writing a FIFO with no reader would block forever."""
    db, run_id = results
    path = _special(kind, tmp_path)
    before, names = _identity(path), sorted(os.listdir(tmp_path))
    url = f"sqlite:///{db.engine.url.database}"
    env = {**os.environ}
    for args in (["map", run_id, "--projection", "pca"], ["export", run_id, "--format", "csv"]):
        done = piped([*args, "-o", str(path), "--force", "--db-url", url], env, timeout_s=60)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith(f"Error: {path} is ") and done.stderr.count("\n") == 1
        expected = "which does not exist" if kind == "dangling link" else "not a regular file"
        assert expected in done.stderr
        assert _identity(path) == before
    assert sorted(os.listdir(tmp_path)) == names  # nothing written beside it


def test_a_link_to_a_regular_file_is_followed(results, tmp_path: Path):
    """The file it points to is replaced (its permissions kept) and the link stays."""
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "run.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    args = ["export", run_id, "--format", "csv", "-o", str(link), "--db-url", url]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "already exists: pass --force" in refused.output
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("query_id")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in elsewhere.iterdir()] == ["run.csv"]


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted on ``folder`` for the block (the test is skipped where mounting is
    not permitted)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 KiB filesystem holding an 8 KiB file ``old``: too small for any export of
    ``results``."""
    with _tmpfs(tmp_path / "disk", "size=32k") as folder:
        (folder / "old").write_bytes(OLD)
        yield folder


OLD = bytes(range(256)) * 32


def _full_disk_refusal(result, folder: Path, name: str) -> None:
    """One sentence naming the file and the full disk, the old file whole, nothing else."""
    sentence = (
        rf"Error: The disk holding {re.escape(str(folder))} is full: {name} did not fit in the "
        r"[\d,]+ kB that were free; free some space or give -o a file on another disk "
        r"\(the existing file is unchanged\)\.\n"
    )
    assert re.fullmatch(sentence, result.stderr), result.stderr or repr(result.exception)
    assert result.exit_code == 1
    assert os.listdir(folder) == [name]
    assert (folder / name).read_bytes() == OLD


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "duckdb"])
@pytest.mark.subprocess
def test_a_full_disk_is_one_sentence_and_leaves_the_old_file_whole(results, full_disk, fmt):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    target = str(full_disk / "old")
    result = runner.invoke(
        app, ["export", run_id, "--format", fmt, "-o", target, "--force", "-q", "--db-url", url]
    )
    _full_disk_refusal(result, full_disk, "old")


@pytest.mark.subprocess
def test_the_map_on_a_full_disk_too(results, full_disk):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    options = ["--projection", "pca", "--sample", "60", "--db-url", url]
    result = runner.invoke(app, ["map", run_id, "-o", str(full_disk / "old"), "--force", *options])
    _full_disk_refusal(result, full_disk, "old")


@pytest.mark.subprocess
def test_a_read_only_disk_is_refused_before_any_work(results, tmp_path: Path):
    db, run_id = results
    url = f"sqlite:///{db.engine.url.database}"
    with _tmpfs(tmp_path / "disk", "size=32k,ro") as folder:
        for args in (["map", run_id, "--projection", "pca"], ["export", run_id, "--format", "csv"]):
            result = runner.invoke(app, [*args, "-o", str(folder / "out"), "--db-url", url])
            assert result.exit_code == 1
            assert result.stderr == (
                f"Error: Cannot write in {folder} (no permission or a read-only disk): "
                "give -o a file in a folder you can write to.\n"
            )
