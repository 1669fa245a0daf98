"""How every benchmark runs: the timed rounds, each with the CPU time the process spent in it, and the peak memory of
one round: the first timed one, or (with a warm-up) an untimed round before them. The callers ask for a warm-up where
it changes what is measured (README: What is measured), and bench.options.warmup for when the user asks for it."""
from __future__ import annotations

import resource
from contextlib import ExitStack
from dataclasses import dataclass, field
from statistics import median
from typing import Callable

from bench.memory import peak_memory


@dataclass
class Measured:
    result: object = None  # the last timed round's
    peaks: dict = field(default_factory=dict)  # one round's memory peaks (bench.memory)
    cpu_user_s: list[float] = field(default_factory=list)  # per timed round
    cpu_system_s: list[float] = field(default_factory=list)

    def cpu(self) -> dict:
        """Median user and system CPU seconds of a timed round."""
        if not self.cpu_user_s:
            return {}
        return {"cpu_user_s": median(self.cpu_user_s), "cpu_system_s": median(self.cpu_system_s)}


class _CpuClock:
    """getrusage(RUSAGE_SELF) read at the end of each round's setup and in its teardown: outside pytest-benchmark's
    timer, every thread of the process counted (TensorStore's and DCP's own included)."""

    def __init__(self, measured: Measured):
        self._measured, self._start = measured, None

    def start(self) -> None:
        self._start = resource.getrusage(resource.RUSAGE_SELF)

    def stop(self, *args, **kwargs) -> None:
        end = resource.getrusage(resource.RUSAGE_SELF)
        self._measured.cpu_user_s.append(end.ru_utime - self._start.ru_utime)
        self._measured.cpu_system_s.append(end.ru_stime - self._start.ru_stime)


def measure(benchmark, target: Callable, setup: Callable[[], tuple], rounds: int, device,
            warmup: bool = False) -> Measured:
    measured = Measured()
    sampling = ExitStack()  # the peak-memory sampler around one round, outside its timer
    if warmup:
        args = setup()
        with peak_memory(device) as measured.peaks:
            target(*args)
    clock = _CpuClock(measured)
    sampled = warmup

    def timed_setup():
        nonlocal sampled
        arguments = setup()
        if not sampled:
            measured.peaks, sampled = sampling.enter_context(peak_memory(device)), True
        clock.start()
        return arguments, {}

    def teardown(*args, **kwargs):
        clock.stop()
        sampling.close()  # the first round's peaks are complete here

    with sampling:  # also when the target raised
        try:
            measured.result = benchmark.pedantic(target, setup=timed_setup, teardown=teardown, rounds=rounds)
        except BaseException:
            benchmark.has_error = True  # pytest-benchmark sets it on an Exception only: store no half-run rounds
            raise
    return measured
