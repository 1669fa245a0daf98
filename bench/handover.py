"""Rounds timed by the suite, handed to pytest-benchmark's fixture so that it stores them as its own.

Why this module exists: pytest-benchmark times only the rounds of the function it calls itself, one benchmark's
rounds back to back; it has no hook to run rounds of several benchmarks in turn (bench.schedule). So the suite times
every round with pytest-benchmark's own timer, and here replays those clock readings through `pedantic`: the fixture
builds its stats, data, options and stored entry exactly as for rounds it timed. The only private names of
pytest-benchmark that the suite touches are here: the fixture's `_timer` and `_disable_gc`.
"""
from __future__ import annotations

import functools

from pytest_benchmark.utils import load_timer

from bench.timing import Clock, Measured, Rounds, run_blocked


def clock(config) -> Clock:
    """The timer and GC setting that pytest-benchmark's own runner would use in this session."""
    timer = load_timer(config.getoption("benchmark_timer"))  # as pytest-benchmark's session reads the option
    return Clock(timer.target, bool(config.getoption("benchmark_disable_gc")))


def hand_over(benchmark, measured: Measured):
    """Give the timed rounds of `measured` to `benchmark` (a pytest-benchmark fixture not yet used); returns the last
    round's result, as pedantic does."""
    readings = iter([t for pair in measured.readings for t in pair])
    timer = benchmark._timer

    @functools.wraps(timer)  # stored under the timer's own name (options.timer)
    def replay():
        return next(readings)

    benchmark._timer = replay
    benchmark.cprofile = False  # a profile of the replay would profile nothing (the run warns that it is ignored)
    try:
        return benchmark.pedantic(lambda: measured.result, rounds=len(measured.readings))
    finally:
        benchmark._timer = timer


def leave_out(benchmark) -> None:
    """A benchmark whose rounds failed: nothing of it is stored."""
    benchmark.has_error = True


def measure(benchmark, target, setup, rounds: int, device, warmup: bool = False, *, disk_path) -> Measured:
    """A benchmark that runs its own rounds back to back when its test runs (bench.timing.Rounds' arguments), handed
    to its fixture; a failed round leaves it out of the stored run. The last round's result is kept."""
    own = Rounds(target, setup, device, Clock(benchmark._timer, benchmark._disable_gc), warmup=warmup,
                 disk_path=disk_path)
    try:
        measured = run_blocked(own, rounds)
    except BaseException:
        leave_out(benchmark)
        raise
    hand_over(benchmark, measured)
    return measured
