"""Runs whose process was killed (SIGKILL, OOM, a closed laptop) are closed before new ones.

A run started by ``lmsys`` executes inside the command's own process, with no daemon watching
it. Killed, it would stay "started" for ever and keep its slot in the ``lmsys_db_writer`` pool,
so every later run would wait on that pool indefinitely. Each run is therefore tagged with its
process (host, pid, start time); before a new run starts, runs of this host whose process is
gone are reported failed and their pool slots freed. (Runs launched by ``dagster dev`` are
watched by its daemon's run monitoring instead.)
"""

import socket

import dagster as dg
import psutil

HOST_TAG = "lmsys/host"
PID_TAG = "lmsys/pid"
STARTED_TAG = "lmsys/process_started"


def process_tags() -> dict[str, str]:
    process = psutil.Process()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(process.pid),
        STARTED_TAG: f"{process.create_time():.3f}",
    }


def _alive(pid: int, started: str) -> bool:
    try:
        return f"{psutil.Process(pid).create_time():.3f}" == started
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def close_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Marks this host's unfinished lmsys runs whose process is gone as failed; frees their
    pool slots. Returns their run ids."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    closed = []
    for run in runs:
        if _alive(int(run.tags.get(PID_TAG, "0")), run.tags.get(STARTED_TAG, "")):
            continue
        instance.report_run_failed(
            run,
            message="The process running this run is gone "
            "(killed); closed by the next lmsys command.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        closed.append(run.run_id)
    return closed
