"""load-cold and load-warm: a verified checkpoint back to tensors on the session device (SPEC §3)."""
import pytest

from bench import checkpoint, disk
from bench.record import record


def _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, prepare):
    result = benchmark.pedantic(
        checkpoint.load, args=(method, saved, options.device), setup=lambda: prepare(saved), rounds=rounds
    )
    assert not checkpoint.mismatches(tensors, result), f"{method.id}: the timed load did not round-trip"
    record(benchmark, method, model_info, disk.usage(saved))


@pytest.mark.benchmark(group="load-cold")
def test_load_cold(benchmark, method, saved, tensors, options, model_info, rounds):
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, disk.evict)


@pytest.mark.benchmark(group="load-warm")
def test_load_warm(benchmark, method, saved, tensors, options, model_info, rounds):
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, disk.read_all)
