"""What ``--progress`` in the benchmarks turns on: the ``on_progress`` the ``lmsys`` CLI hands a
run in a terminal (issue 18), so its cost is measured, not guessed: the run-log line of
``ProgressResource`` (throttled, to a log that drops it) and the live Rich display, drawn to
/dev/null as if it were a 160-column terminal, its refresh thread running."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from rich.console import Console

from lmsys_pipeline.cli.progress import LiveDisplay
from lmsys_pipeline.defs.resources import ProgressResource
from lmsys_pipeline.progress import OnProgress, no_progress


@contextmanager
def cli_progress() -> Iterator[OnProgress]:
    with open(os.devnull, "w") as sink:
        display = LiveDisplay(Console(file=sink, force_terminal=True, width=160))
        with display.rich:
            yield ProgressResource().with_display(display).reporter(lambda line: None)


def off_and_on(rounds: int, unit: str, run: Callable[[str, OnProgress], tuple[float, int]]):
    """``run(name, on_progress)`` returns (seconds, units done) on fresh data named ``name``;
    each round runs it with progress off and on, the order alternating. Prints a table."""
    print("| round | off | on | on / off | load |\n|---:|---:|---:|---:|---:|")
    totals = {"off": 0.0, "on": 0.0}
    for number in range(1, rounds + 1):
        seconds, rates = {}, {}
        for mode in ("off", "on") if number % 2 else ("on", "off"):
            with cli_progress() if mode == "on" else nullcontext(no_progress) as on_progress:
                seconds[mode], done = run(f"{mode}-{number}", on_progress)
            totals[mode] += seconds[mode]
            rates[mode] = f"{done / seconds[mode]:,.1f} {unit}/s"
        print(
            f"| {number} | {rates['off']} | {rates['on']} | "
            f"{seconds['on'] / seconds['off']:.3f} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
    print(f"all rounds: on / off = {totals['on'] / totals['off']:.3f}")
