"""How every benchmark's rounds run: each timed round's setup untimed, its target timed with pytest-benchmark's timer,
the CPU time and disk requests of the round counted outside the timer, and the peak memory of one round (the first
timed one, or with a warm-up an untimed round before them). The callers ask for a warm-up where it changes what is
measured (README: What is measured), and bench.options.warmup for when the user asks for it.

A benchmark's rounds run one at a time (Rounds.timed), so that bench.schedule can run them back to back (blocked) or
in turn with other methods' (interleaved); bench.handover then gives them to the benchmark's fixture."""
from __future__ import annotations

import gc
import itertools
import resource
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path
from statistics import median
from typing import Callable

from bench import disk
from bench.memory import peak_memory
from runschema import BLOCKED

_POSITIONS = itertools.count()  # every timed round's position in the run: the same on every rank (one schedule)
RUN = uuid.uuid4().hex  # which run those positions are of (rank 0's is the one stored)


@dataclass
class Measured:
    result: object = None  # the last timed round's, until its check (bench.schedule) lets it go
    peaks: dict = field(default_factory=dict)  # one round's memory peaks (bench.memory)
    cpu_user_s: list[float] = field(default_factory=list)  # per timed round
    cpu_system_s: list[float] = field(default_factory=list)
    requests: list[disk.Requests] = field(default_factory=list)  # per timed round, of the disk under test
    readings: list[tuple[float, float]] = field(default_factory=list)  # the timer at each timed round's start, stop
    rounds_at: list[int] = field(default_factory=list)  # each timed round's position in the run
    order: str = BLOCKED  # runschema.ORDERS: how bench.schedule ran these rounds

    def cpu(self) -> dict:
        """Median user and system CPU seconds of a timed round."""
        if not self.cpu_user_s:
            return {}
        return {"cpu_user_s": median(self.cpu_user_s), "cpu_system_s": median(self.cpu_system_s)}

    def disk(self) -> dict:
        """Median requests and bytes of a timed round, read and written, as runschema.Record names them."""
        if not self.requests:
            return {}
        return {f"disk_{f.name}": round(median(getattr(r, f.name) for r in self.requests))
                for f in fields(disk.Requests)}

    def positions(self) -> dict:
        """What lets a report pair these rounds with another benchmark's (runschema.paired)."""
        return {"order": self.order, "rounds_at": list(self.rounds_at), "run": RUN}


@dataclass(frozen=True)
class Clock:
    """pytest-benchmark's timer (--benchmark-timer) and whether its rounds run with the garbage collector off
    (--benchmark-disable-gc), as its own runner does."""

    timer: Callable[[], float]
    disable_gc: bool = False


class Rounds:
    """One benchmark's rounds: `setup()` (untimed) returns the arguments of `target` (timed)."""

    def __init__(self, target: Callable, setup: Callable[[], tuple], device, clock: Clock, *, warmup: bool = False,
                 disk_path: Path | None):
        """`disk_path`: a directory on the disk under test, whose block device's requests each round counts (None:
        none)."""
        self.measured = Measured()
        self._target, self._setup, self._device, self._clock, self._warmup = target, setup, device, clock, warmup
        self._sampled = False
        self._device_counted = disk.counted_device(disk_path) if disk_path is not None else None

    def warm_up(self) -> None:
        """The untimed round before the timed ones, if asked: its peaks are the ones kept."""
        if self._warmup and not self._sampled:
            args = self._setup()
            with peak_memory(self._device) as self.measured.peaks:
                self._target(*args)
            self._sampled = True

    def timed(self, keep: bool = False) -> None:
        """One timed round; its getrusage and disk counters are read after the setup and after the stop, outside the
        timer: every thread of the process counted (TensorStore's and DCP's own), and every request the disk completed
        meanwhile (the whole system's). Its result is let go before the next round's setup unless `keep` (the last
        round's, to be checked): so every round starts with the previous one's memory freed, whichever method's it
        was, in either order."""
        self.measured.result = None
        args = self._setup()
        measured, timer = self.measured, self._clock.timer
        with ExitStack() as sampling:  # the peak-memory sampler around the first round, closed also when it raises
            if not self._sampled:
                measured.peaks, self._sampled = sampling.enter_context(peak_memory(self._device)), True
            requests, usage = self._requests(), resource.getrusage(resource.RUSAGE_SELF)
            collecting = gc.isenabled() and self._clock.disable_gc
            if collecting:
                gc.disable()
            try:
                start = timer()
                result = self._target(*args)
                stop = timer()
            finally:
                if collecting:
                    gc.enable()
            end, requests_end = resource.getrusage(resource.RUSAGE_SELF), self._requests()
        measured.result = result if keep else None
        measured.readings.append((start, stop))
        measured.rounds_at.append(next(_POSITIONS))
        measured.cpu_user_s.append(end.ru_utime - usage.ru_utime)
        measured.cpu_system_s.append(end.ru_stime - usage.ru_stime)
        if requests is not None and requests_end is not None:
            measured.requests.append(requests_end - requests)

    def _requests(self) -> disk.Requests | None:
        return disk.requests(self._device_counted) if self._device_counted is not None else None


def run_blocked(rounds: Rounds, count: int) -> Measured:
    """`count` timed rounds back to back, after the warm-up if asked; the last one's result is kept."""
    rounds.warm_up()
    for k in range(count):
        rounds.timed(keep=k == count - 1)
    return rounds.measured
