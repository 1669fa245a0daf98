"""The timed operations as plain functions, shared by the six-way benchmarks and the sweep (README: What is measured)."""
from __future__ import annotations

from bench import checkpoint, disk
from bench.record import method_identity, record, require_round_trip
from bench.timing import measure


def timed_save(request, benchmark, method, slot, state, options, model_info, rounds) -> None:
    def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
        return method, state, slot.replace(), options.durability

    try:
        measured = measure(benchmark, checkpoint.save, setup, rounds, options.device)
    except BaseException:
        slot.discard()  # a failed save's partial checkpoint must not be loaded as if it were whole
        raise
    record(benchmark, method_identity(method), model_info, disk.usage(slot.root), measured)
    request.getfixturevalue("saved")  # verifies the last round's checkpoint, or drops these timings


def timed_load(benchmark, method, saved, state, options, model_info, rounds, cold: bool) -> None:
    if not cold:
        disk.read_all(saved)  # once: every round reads it all again, so it stays cached

    def setup():
        if cold:
            disk.evict(saved)
        return method, saved, options.device

    measured = measure(benchmark, checkpoint.load, setup, rounds, options.device)
    require_round_trip(benchmark, method, state, measured.result)
    record(benchmark, method_identity(method), model_info, disk.usage(saved), measured)
