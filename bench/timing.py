"""How every benchmark runs: the timed rounds, each with the CPU time the process spent in it, and the peak memory of
one round: the first timed one, or (with a warm-up) an untimed round before them. The callers ask for a warm-up where
it changes what is measured (README: What is measured), and bench.options.warmup for when the user asks for it."""
from __future__ import annotations

import resource
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path
from statistics import median
from typing import Callable

from bench import disk
from bench.memory import peak_memory


@dataclass
class Measured:
    result: object = None  # the last timed round's
    peaks: dict = field(default_factory=dict)  # one round's memory peaks (bench.memory)
    cpu_user_s: list[float] = field(default_factory=list)  # per timed round
    cpu_system_s: list[float] = field(default_factory=list)
    requests: list[disk.Requests] = field(default_factory=list)  # per timed round, of the disk under test

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


class _RoundCounters:
    """getrusage(RUSAGE_SELF) and the disk's request counters, read at the end of each round's setup and in its
    teardown: outside pytest-benchmark's timer; every thread of the process counted (TensorStore's and DCP's own
    included), and every request the disk completed meanwhile (the whole system's)."""

    def __init__(self, measured: Measured, disk_path: Path | None):
        self._measured, self._start, self._requests = measured, None, None
        self._device = disk.counted_device(disk_path) if disk_path is not None else None

    def _disk(self) -> disk.Requests | None:
        return disk.requests(self._device) if self._device is not None else None

    def start(self) -> None:
        self._requests = self._disk()
        self._start = resource.getrusage(resource.RUSAGE_SELF)

    def stop(self, *args, **kwargs) -> None:
        end = resource.getrusage(resource.RUSAGE_SELF)
        requests = self._disk()
        self._measured.cpu_user_s.append(end.ru_utime - self._start.ru_utime)
        self._measured.cpu_system_s.append(end.ru_stime - self._start.ru_stime)
        if requests is not None and self._requests is not None:
            self._measured.requests.append(requests - self._requests)


def measure(benchmark, target: Callable, setup: Callable[[], tuple], rounds: int, device, warmup: bool = False, *,
            disk_path: Path | None) -> Measured:
    """`disk_path`: a directory on the disk under test, whose block device's requests each round counts (None: none)."""
    measured = Measured()
    sampling = ExitStack()  # the peak-memory sampler around one round, outside its timer
    if warmup:
        args = setup()
        with peak_memory(device) as measured.peaks:
            target(*args)
    clock = _RoundCounters(measured, disk_path)
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
