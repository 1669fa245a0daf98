"""The timed operations as plain functions, shared by the six-way benchmarks and the sweep (README: What is measured).

At N ranks (a World from bench.ranks) every round is: barrier (in the untimed setup), start, the operation on every
rank, the ranks' agreement that it succeeded (an all-reduce: the closing barrier), stop; so the time is the slowest
rank's."""
from __future__ import annotations

import math
import signal

import pytest

from bench import checkpoint, disk, sharding
from bench.ranks import RankError, ranked, solo
from bench.record import method_identity, record, require_round_trip
from bench.timing import measure


def timed_save(request, benchmark, method, slot, state, options, model_info, rounds, world=None) -> None:
    def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
        return method, state, ready(slot.replace(), world), options.durability, world

    try:
        measured = measure(benchmark, ranked(world, checkpoint.save), setup, rounds, options.device, options.warmup,
                           disk_path=options.ckpt_dir)
    except BaseException as e:
        slot.discard()  # a failed save's partial checkpoint must not be loaded as if it were whole
        stop_on_rank_error(e)
        raise
    record(benchmark, method_identity(method), model_info, disk.usage(slot.root), measured, world,
           ranks(state, world, saving=True))
    request.getfixturevalue("saved")  # verifies the last round's checkpoint, or drops these timings


def timed_load(benchmark, method, saved, state, options, model_info, rounds, cold: bool, world=None,
               loader=None) -> None:
    """`loader`: the World that loads (default `world`); rank 0 alone (bench.ranks.solo) for a resharded load."""
    loader = world if loader is None else loader
    if not cold:
        disk.read_all(saved)  # once: every round reads it all again, so it stays cached
    loading = takes_part(world, loader)
    pieces = checkpoint.targets(state, loader) if loader is not None else None

    def setup():
        if cold:
            disk.evict(saved)
        return method, ready(saved, world), options.device, loader, pieces

    def load(*args):
        return checkpoint.load(*args) if loading else None

    try:
        # a warm-up round always: a load's rounds reuse the heap the one before freed (trimmed before each: warm
        # loads 2-6x slower), so the first would differ
        measured = measure(benchmark, ranked(world, load), setup, rounds, options.device, warmup=True,
                           disk_path=options.ckpt_dir)
        expected = expected_state(state, loader) if loading else None
        require_round_trip(benchmark, method, expected, measured.result, world)
    except RankError as e:
        stop_on_rank_error(e)
        raise
    extra = {"saved_world_size": checkpoint.saved_world_size(saved)} if world is not None else {}
    record(benchmark, method_identity(method), model_info, disk.usage(saved), measured, world,
           {**ranks(state, loader, saving=False), **extra})


def require_async_save(method, world=None) -> None:
    """Skip the benchmark of a method whose format has no asynchronous save (at N ranks: none at N ranks)."""
    if not method.format.saves_async:
        pytest.skip(f"{method.id}: its format ({method.format.name}) has no asynchronous save")
    if world is not None and not method.format.saves_async_at_ranks:
        pytest.skip(f"{method.id}: its format ({method.format.name}) has no asynchronous save at several ranks")


def takes_part(world, sub) -> bool:
    """Whether this rank works in `sub` (the whole world, or rank 0 alone: bench.ranks.solo)."""
    return world is None or sub.size == world.size or world.main


def expected_state(state, sub):
    """What a load by `sub` (None: one process) must return on this rank."""
    return state if sub is None else checkpoint.local_state(state, sub)


def ready(root, world):
    """At N ranks, every rank waits here until all are ready (and rank 0 has made `root`): the clock starts together."""
    if world is not None:
        world.barrier()
    return root


def stop_on_rank_error(error: BaseException) -> None:
    """A round that failed on a rank ends the run on every rank alike, or they would wait for each other."""
    if isinstance(error, RankError):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # torchrun's SIGTERM must not cut this rank's clean-up short
        pytest.exit(str(error), returncode=1)


def ranks(state, world, saving: bool) -> dict:
    """What a rank-aware record adds: the bytes each rank wrote (replicated tensors by rank 0) or read."""
    if world is None:
        return {}
    stored = checkpoint.targets(state, solo(world))  # the global tensors' shapes
    per_rank = {}
    for rank in range(world.size):
        pieces = [sharding.piece(p.shape, p.dtype, world.size, rank) for p in stored.values()]
        per_rank[str(rank)] = sum(math.prod(q.local_shape) * q.dtype.itemsize for q in pieces
                                  if not saving or q.writes(rank))
    return {"world_size": world.size, "nnodes": world.nnodes, "rank_bytes": per_rank}
