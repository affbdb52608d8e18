"""Progress events, their plain line, and the throttle that keeps a listener to one event per
interval (a clock that the test moves, so nothing waits)."""

import threading

from lmsys_pipeline.progress import Progress, Throttled, duration, fan_out, no_progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _event(done: int) -> Progress:
    return Progress("embed", done, 100, "queries", elapsed_s=float(done))


def test_the_first_event_passes_and_then_at_most_one_per_interval():
    clock, heard = Clock(), []
    throttled = Throttled(heard.append, 30.0, clock)
    for second in range(0, 95):  # one event a second for 95 s
        clock.now = 1000.0 + second
        throttled(_event(second))
    assert [event.done for event in heard] == [0, 30, 60, 90]


def test_a_burst_passes_only_its_first_event():
    clock, heard = Clock(), []
    throttled = Throttled(heard.append, 5.0, clock)
    for done in range(1000):
        throttled(_event(done))
    assert [event.done for event in heard] == [0]
    clock.now += 5.0
    throttled(_event(1000))
    assert [event.done for event in heard] == [0, 1000]


def test_an_interval_of_zero_passes_every_event():
    heard = []
    throttled = Throttled(heard.append, 0.0, Clock())
    for done in range(10):
        throttled(_event(done))
    assert len(heard) == 10


def test_threads_together_pass_one_event_per_interval():
    clock, heard = Clock(), []
    throttled = Throttled(heard.append, 30.0, clock)
    threads = [
        threading.Thread(target=lambda: [throttled(_event(d)) for d in range(200)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(heard) == 1


def test_the_line_says_counts_rate_time_left_and_details():
    event = Progress(
        "embed",
        4_096,
        16_645,
        "queries",
        elapsed_s=32.0,
        details={"embedded": 4_000, "reused": 96, "on": "cpu"},
    )
    assert event.line() == (
        "embed: 4,096 / 16,645 queries (25%), 128 queries/s, about 2 min left; "
        "embedded 4,000, reused 96, on cpu"
    )


def test_what_cost_nothing_is_left_out_of_the_rate():
    resumed = Progress("summarize", 60, 100, "clusters", elapsed_s=10.0, start=50)
    assert resumed.rate == 1.0 and resumed.eta_s == 40.0
    assert Progress("summarize", 50, 100, "clusters", elapsed_s=10.0, start=50).rate is None


def test_phases_and_unknown_totals_read_well():
    assert Progress("cluster", 0, None, "vectors", phase="load").line() == "cluster (load): started"
    assert (
        Progress("cluster", 11_033, None, "queries", phase="reduce").line()
        == "cluster (reduce): 11,033 queries"
    )
    streamed = Progress("load", 20_000, None, "rows", elapsed_s=2.0)
    assert streamed.line() == "load: 20,000 rows, 10,000 rows/s" and streamed.eta_s is None
    done = Progress("load", 10, 10, "rows", elapsed_s=2.0)
    assert "left" not in done.line()


def test_durations():
    assert [duration(s) for s in (42, 180, 7500)] == ["42 s", "3 min", "2 h 05 min"]


def test_fan_out_hands_each_event_to_every_listener():
    first, second = [], []
    report = fan_out(first.append, None, second.append, no_progress)
    report(_event(1))
    assert first == second == [_event(1)]
