"""The timed operations of SPEC §3 as plain functions, shared by the six-way benchmarks and the sweep."""
from __future__ import annotations

from bench import checkpoint, disk
from bench.record import method_fields, record, require_round_trip
from bench.timing import measure


def timed_save(request, benchmark, method, slot, tensors, options, model_info, rounds) -> None:
    def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
        return method, tensors, slot.replace(), options.durability

    _, peaks = measure(benchmark, checkpoint.save, setup, rounds, options.device)
    record(benchmark, method_fields(method), model_info, disk.usage(slot.root), peaks)
    request.getfixturevalue("saved")  # verifies the last round's checkpoint, or drops these timings


def timed_load(benchmark, method, saved, tensors, options, model_info, rounds, cold: bool) -> None:
    if not cold:
        disk.read_all(saved)  # once: every round reads it all again, so it stays cached

    def setup():
        if cold:
            disk.evict(saved)
        return method, saved, options.device

    result, peaks = measure(benchmark, checkpoint.load, setup, rounds, options.device)
    require_round_trip(benchmark, method, tensors, result)
    record(benchmark, method_fields(method), model_info, disk.usage(saved), peaks)
