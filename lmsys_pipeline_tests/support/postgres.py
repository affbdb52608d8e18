"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp dir, as user postgres.

initdb refuses to run as root, and sessions and CI run as root, so the server runs as the
``postgres`` system user via runuser when we are root. Trust auth on 127.0.0.1, a free port.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        path = Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
        if (path / "initdb").exists():
            return path
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed: run "
        "`apt-get install -y postgresql` (.ci/run does this)."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(keep: Path | None = None) -> Iterator[str]:
    """Yields a SQLAlchemy URL of a fresh, empty database; stops the server afterwards.
    With ``keep`` (a folder), the cluster lives there and outlives the server: a later call
    with the same folder serves the same data (a benchmark's database built once)."""
    bindir = _bindir()
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="lmsys-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    if not (data / "PG_VERSION").exists():
        _initdb(bindir, data)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "server.log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        mode = "fast" if keep else "immediate"
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", mode, "stop"]),
            capture_output=True,
        )
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _initdb(bindir: Path, data: Path) -> None:
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
