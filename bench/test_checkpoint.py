"""The timed operations of SPEC §3, one parametrised test each; pytest runs them method by method."""
import pytest

from bench import checkpoint, disk
from bench.record import method_fields, record, require_round_trip
from bench.timing import measure


@pytest.mark.benchmark(group="save")
def test_save(request, benchmark, method, slot, tensors, options, model_info, rounds):
    def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
        return method, tensors, slot.replace(), options.durability

    _, peaks = measure(benchmark, checkpoint.save, setup, rounds, options.device)
    record(benchmark, method_fields(method), model_info, disk.usage(slot.root), peaks)
    request.getfixturevalue("saved")  # verifies the last round's checkpoint, or drops these timings


def _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, prepare):
    def setup():
        prepare(saved)
        return method, saved, options.device

    result, peaks = measure(benchmark, checkpoint.load, setup, rounds, options.device)
    require_round_trip(benchmark, method, tensors, result)
    record(benchmark, method_fields(method), model_info, disk.usage(saved), peaks)


@pytest.mark.benchmark(group="load-cold")
def test_load_cold(benchmark, method, saved, tensors, options, model_info, rounds):
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, prepare=disk.evict)


@pytest.mark.benchmark(group="load-warm")
def test_load_warm(benchmark, method, saved, tensors, options, model_info, rounds):
    disk.read_all(saved)  # once: every round reads it all again, so it stays cached
    _timed_load(benchmark, method, saved, tensors, options, model_info, rounds, prepare=lambda root: None)
