"""Shared by the benchmarks: a function run in a fresh process, with that process's peak RSS."""

import multiprocessing
import time
from pathlib import Path


def peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux keeps that across exec, so a
    spawned child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _call(target, args, queue) -> None:
    queue.put(target(*args))


def in_fresh_process(target, *args):
    """``target(*args)`` in a spawned process (its memory is its own); returns its result."""
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    process = spawn.Process(target=_call, args=(target, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _timed(target, *args):
    started = time.perf_counter()
    details = target(*args)
    return time.perf_counter() - started, peak_mb(), details


def timed_in_fresh_process(target, *args) -> tuple[float, float, object]:
    """``target(*args)`` in a spawned process: its wall seconds, that process's peak RSS (MB)
    and its result."""
    return in_fresh_process(_timed, target, *args)
