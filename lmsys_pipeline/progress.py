"""Progress of long work, as plain events: what the functions that count (ingestion, embedding,
clustering, summary and hierarchy runs, exports) hand to an optional ``on_progress`` callback.

The functions know nothing of who listens: the Dagster assets write a steady line to the run
log (``defs/resources.py::ProgressResource``) and the ``lmsys`` CLI also draws a live display
(``cli/progress.py``). ``Throttled`` keeps a listener to one event per interval.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Progress:
    """Where one stage stands: ``done`` of ``total`` ``unit`` (total None: not known yet, e.g.
    a streamed source) after ``elapsed_s`` seconds of its current ``phase``. ``details`` holds
    the stage's other counts (inserted, reused, in flight, tokens ...) in display order."""

    stage: str
    done: int
    total: int | None
    unit: str
    elapsed_s: float = 0.0
    phase: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    start: int = 0  # of ``done``, those that cost nothing this time (resumed, cached)

    @property
    def rate(self) -> float | None:
        """Units per second so far (``start`` left out), None before the first is done."""
        worked = self.done - self.start
        return worked / self.elapsed_s if worked > 0 and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far, None when it cannot be told."""
        rate = self.rate
        if rate is None or self.total is None:
            return None
        return max(self.total - self.done, 0) / rate

    @property
    def title(self) -> str:
        return f"{self.stage} ({self.phase})" if self.phase else self.stage

    def line(self) -> str:
        """The event as one plain line, e.g. ``embed: 8,192 / 16,645 queries (49%), 120
        queries/s, about 1 min left; embedded 7,900, reused 292, on cpu``."""
        if self.total is None and not self.done:
            text = f"{self.title}: started"
        elif self.total is None:
            text = f"{self.title}: {self.done:,} {self.unit}"
        else:
            share = self.done / self.total if self.total else 1.0
            text = f"{self.title}: {self.done:,} / {self.total:,} {self.unit} ({share:.0%})"
        if self.rate is not None:
            text += f", {_amount(self.rate)} {self.unit}/s"
        eta = self.eta_s
        if eta is not None and self.done < (self.total or 0):
            text += f", about {duration(eta)} left"
        if self.details:
            text += "; " + ", ".join(f"{k} {shown(v)}" for k, v in self.details.items())
        return text


OnProgress = Callable[[Progress], None]


def no_progress(event: Progress) -> None:
    """The default listener: nobody."""


def _amount(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}" if value < 1 else f"{value:,.2f}"
    return str(value)


def duration(seconds: float) -> str:
    """``42 s``, ``3 min``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


class Throttled:
    """Passes an event on to ``listener`` only when ``interval_s`` have passed since the last
    one it passed (the first always passes): at most one event per interval, whatever the
    rate of the work. Safe to call from several threads."""

    def __init__(
        self,
        listener: OnProgress,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.listener = listener
        self.interval_s = interval_s
        self.clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.interval_s:
                return
            self._last = now
        self.listener(event)


def fan_out(*listeners: OnProgress | None) -> OnProgress:
    """One listener that hands each event to every given one (None ones left out)."""
    present = [listener for listener in listeners if listener is not None]

    def report(event: Progress) -> None:
        for listener in present:
            listener(event)

    return report


class Stopwatch:
    """Seconds since it was made or last ``restart``ed: a phase's ``elapsed_s``."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def restart(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
