"""How every benchmark runs: one untimed round (warm-up and peak memory), then the timed rounds."""
from __future__ import annotations

from typing import Callable

from bench.memory import peak_memory


def measure(benchmark, target: Callable, setup: Callable[[], tuple], rounds: int, device) -> tuple[object, dict]:
    """Returns the last timed round's result and the untimed round's memory peaks."""
    args = setup()
    with peak_memory(device) as peaks:
        target(*args)
    result = benchmark.pedantic(target, setup=lambda: (setup(), {}), rounds=rounds)
    return result, peaks
