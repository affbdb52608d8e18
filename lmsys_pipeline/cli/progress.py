"""How a long ``lmsys`` command shows progress on stderr: a live Rich display in a terminal,
else (a pipe, CI, ``--json``) one plain line at most every 30 seconds; ``--quiet`` shows
nothing. The events are those the run writes to its Dagster log (``ProgressResource``).

The display writes to its own duplicate of stderr's file descriptor: while a step runs, Dagster
captures the process's stderr into the run's compute logs and shows it only later.
"""

import io
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Column

from lmsys_pipeline.cli.console import LiteralConsole
from lmsys_pipeline.progress import OnProgress, Progress, Throttled, duration, shown

# Seconds between plain progress lines when stderr is not a terminal (read, never written).
INTERVAL_ENV = "LMSYS_PROGRESS_SECONDS"
PLAIN_INTERVAL_S = 30.0


def plain_interval() -> float:
    value = os.environ.get(INTERVAL_ENV)
    try:
        return max(float(value), 0.0) if value else PLAIN_INTERVAL_S
    except ValueError:
        return PLAIN_INTERVAL_S


def _count(event: Progress) -> str:
    if event.total is None and not event.done:
        return ""
    if event.total is None:
        return f"{event.done:,} {event.unit}"
    return f"{event.done:,}/{event.total:,} {event.unit}"


def _rate(event: Progress) -> str:
    rate = event.rate
    if rate is None:
        return ""
    amount = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
    return f"{amount} {event.unit}/s"


def _left(event: Progress) -> str:
    eta = event.eta_s
    if eta is None or event.total is None or event.done >= event.total:
        return ""
    return f"{duration(eta)} left"


class LiveDisplay:
    """One Rich progress bar per stage and phase, updated by each event (from any thread).
    A new phase of the same stage completes the bar of the one before."""

    def __init__(self, console: Console):
        self.rich = RichProgress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(bar_width=16),
            TextColumn("{task.fields[count]}", markup=False),
            TextColumn("{task.fields[rate]}", style="cyan", markup=False),
            TimeElapsedColumn(),
            TextColumn("{task.fields[left]}", style="yellow", markup=False),
            # The stage's own counts take what is left of the line, cut with "…" when narrow,
            # so the bar and the numbers before them keep their width.
            TextColumn(
                "{task.fields[details]}",
                style="dim",
                markup=False,
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
            ),
            console=console,
            refresh_per_second=4,
            expand=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self._current: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            task = self._tasks.get(event.title)
            if task is None:
                self._finish(self._current.get(event.stage))
                task = self.rich.add_task(
                    event.title, total=event.total, count="", rate="", left="", details=""
                )
                self._tasks[event.title] = task
                self._current[event.stage] = task
            details = ", ".join(f"{k} {shown(v)}" for k, v in event.details.items())
            self.rich.update(
                task,
                completed=event.done,
                total=event.total,
                count=_count(event),
                rate=_rate(event),
                left=_left(event),
                details=details,
                refresh=True,
            )

    def _finish(self, task: TaskID | None) -> None:
        if task is None:
            return
        state = self.rich.tasks[task]
        total = state.total if state.total is not None else max(state.completed, 1)
        self.rich.update(task, total=total, completed=total, left="")

    def finish_all(self) -> None:
        with self._lock:
            for task in self._current.values():
                self._finish(task)


@contextmanager
def progress_display(console: Console, *, quiet: bool, plain: bool) -> Iterator[OnProgress | None]:
    """What shows a command's progress on ``console`` while the block runs: None when
    ``quiet``; plain lines (at most one per ``$LMSYS_PROGRESS_SECONDS``, default 30) when
    ``plain`` or ``console`` is not a terminal; else a live display."""
    if quiet:
        yield None
        return
    with ExitStack() as stack:
        own = _own_stream(console, stack)
        if plain or not console.is_terminal:
            yield Throttled(lambda event: own.print(event.line()), plain_interval())
            return
        display = LiveDisplay(own)
        with display.rich:
            yield display
            display.finish_all()


def _own_stream(console: Console, stack: ExitStack) -> Console:
    """A console like ``console`` on a duplicate of its file descriptor (``console`` itself
    when its file has none, as under a test runner)."""
    try:
        descriptor = console.file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return console
    stream = stack.enter_context(
        os.fdopen(os.dup(descriptor), "w", encoding="utf-8", errors="replace", buffering=1)
    )
    return LiteralConsole(
        file=stream,
        force_terminal=console.is_terminal,
        width=console.width,
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
