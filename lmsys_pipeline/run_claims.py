"""Which clustering runs live ``lmsys cluster`` commands on this machine are working on.

A run is registered a moment before its Dagster run starts, so neither the database nor the
instance can tell a run that some process is about to materialize from one that a stopped
process left behind. Each ``lmsys cluster`` therefore holds a POSIX record lock on one byte of
a file in ``DAGSTER_HOME`` for the run it works on (the kernel drops it when the process ends,
SIGKILL included), and chooses between taking a run up and registering a new one under a lock
on byte 0, so two commands never take up the same run.
"""

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

CLAIMS_FILE = "lmsys-run-claims.lock"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class RunClaims:
    def __init__(self, handle):
        self._handle = handle

    @contextmanager
    def choosing(self) -> Iterator[None]:
        """One process at a time decides which run it works on."""
        fcntl.lockf(self._handle, fcntl.LOCK_EX, 1, 0)
        try:
            yield
        finally:
            fcntl.lockf(self._handle, fcntl.LOCK_UN, 1, 0)

    def claim(self, run_id: str) -> bool:
        """Whether this process now holds ``run_id`` (False: a live process holds it)."""
        try:
            fcntl.lockf(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _byte(run_id))
        except OSError:
            return False
        return True


def _byte(run_id: str) -> int:
    return 1 + zlib.crc32(run_id.encode())


@contextmanager
def run_claims(home: Path) -> Iterator[RunClaims]:
    """Claims held until the block ends (closing the file releases every one of them)."""
    with open(home / CLAIMS_FILE, "a+b") as handle:
        yield RunClaims(handle)


def materializing(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether a Dagster run of the ``run_id`` partition is queued or running (one launched
    from the UI, or by another machine sharing the instance)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/partition": run_id}, statuses=IN_PROGRESS), limit=1
    )
    return bool(runs)
