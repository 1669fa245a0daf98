"""The timed operations of SPEC §3, one parametrised test each; pytest runs them method by method."""
import pytest

from bench import checkpoint, disk
from bench.record import record, require_round_trip


@pytest.mark.benchmark(group="save")
def test_save(request, benchmark, method, slot, tensors, options, model_info, rounds):
    def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
        return (method, tensors, slot.replace(), options.durability), {}

    benchmark.pedantic(checkpoint.save, setup=setup, rounds=rounds)
    record(benchmark, method, model_info, disk.usage(slot.root))
    request.getfixturevalue("saved")  # verifies the last round's checkpoint, or drops these timings


def _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, setup):
    result = benchmark.pedantic(checkpoint.load, args=(method, saved, options.device), setup=setup, rounds=rounds)
    require_round_trip(benchmark, method, tensors, result)
    record(benchmark, method, model_info, disk.usage(saved))


@pytest.mark.benchmark(group="load-cold")
def test_load_cold(benchmark, method, saved, tensors, options, model_info, rounds):
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, setup=lambda: disk.evict(saved))


@pytest.mark.benchmark(group="load-warm")
def test_load_warm(benchmark, method, saved, tensors, options, model_info, rounds):
    disk.read_all(saved)  # once: every timed round reads it all again, so it stays cached
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, setup=None)
