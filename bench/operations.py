"""The timed operations as plain functions, shared by the six-way benchmarks and the sweep (README: What is measured).

At N ranks (a World from bench.ranks) every round is: barrier (in the untimed setup), start, the operation on every
rank, the ranks' agreement that it succeeded (an all-reduce: the closing barrier), stop; so the time is the slowest
rank's."""
from __future__ import annotations

import math
import signal
from functools import partial
from pathlib import Path

import pytest

from bench import checkpoint, disk, handover, sharding
from bench.ranks import RankError, ranked, solo
from bench.record import method_identity, record, require_round_trip
from bench.schedule import Plan
from bench.timing import Rounds
from bench.workspace import Slot


def timed_save(request, benchmark, method, checkpoints, state, options, model_info, world=None) -> None:
    """The save rounds of `method`; interleaved, the first test of the cohort runs every method's (bench.schedule)."""
    clock = handover.clock(request.config)

    def plan(m) -> Plan:
        slot = checkpoints.slot(m.id)

        def setup():  # untimed: the previous round's checkpoint goes, a fresh empty directory comes
            return m, state, ready(slot.replace(), world), options.durability, world

        # at N ranks the setup is agreed on too: a rank whose setup failed must not go on to the next method alone
        rounds = Rounds(ranked(world, checkpoint.save), ranked(world, setup), options.device, clock,
                        warmup=options.warmup, disk_path=options.ckpt_dir)
        # the last round's checkpoint is verified, or these timings are dropped; a failed save's partial checkpoint
        # must not be loaded as if it were whole
        return Plan(rounds, check=lambda measured: checkpoints.saved(m), failed=slot.discard)

    measured = _scheduled(request, benchmark, method, plan)
    record(benchmark, method_identity(method), model_info, disk.usage(checkpoints.slot(method.id).root), measured,
           world, ranks(state, world, saving=True))


def timed_load(request, benchmark, method, saved, state, options, model_info, cold: bool, world=None,
               loader=None) -> None:
    """`saved(m)`: method m's verified checkpoint (bench.operations.Checkpoints.saved). `loader`: the World that loads
    (default `world`); rank 0 alone (bench.ranks.solo) for a resharded load."""
    loader = world if loader is None else loader
    loading = takes_part(world, loader)
    pieces = checkpoint.targets(state, loader) if loader is not None else None
    clock = handover.clock(request.config)

    def plan(m) -> Plan:
        root = saved(m)

        def setup():  # untimed: evicted right before a cold round, read into the page cache before a warm one
            (disk.evict if cold else disk.read_all)(root)
            return m, ready(root, world), options.device, loader, pieces

        def load(*args):
            return checkpoint.load(*args) if loading else None

        def check(measured):
            require_round_trip(m, expected_state(state, loader) if loading else None, measured.result, world)

        # a warm-up round always: a load's rounds reuse the heap the one before freed (trimmed before each: warm
        # loads 2-6x slower), so the first would differ
        rounds = Rounds(ranked(world, load), ranked(world, setup), options.device, clock, warmup=True,
                        disk_path=options.ckpt_dir)
        return Plan(rounds, check=check)

    measured = _scheduled(request, benchmark, method, plan)
    root = saved(method)
    extra = {"saved_world_size": checkpoint.saved_world_size(root)} if world is not None else {}
    record(benchmark, method_identity(method), model_info, disk.usage(root), measured, world,
           {**ranks(state, loader, saving=False), **extra})


def _scheduled(request, benchmark, method, plan):
    """This test's rounds of `method`, as the session's schedule runs them, handed to its fixture."""
    try:
        measured = request.config.ckpt_schedule.measured(request.node, method, plan)
    except BaseException as e:
        handover.leave_out(benchmark)
        stop_on_rank_error(e)
        raise
    handover.hand_over(benchmark, measured)
    return measured


class Checkpoints:
    """Each method's checkpoint kept on disk by a benchmark module (a Slot per label), and the verified one that its
    loads read: written by the save benchmark's last round, or here if that did not run; verified once. A failure is
    kept, and raised again to every benchmark that needs that checkpoint."""

    def __init__(self, workspace, state, options, world):
        self._workspace, self._state, self._options, self._world = workspace, state, options, world
        self._slots: dict[str, Slot] = {}
        self._failed: dict[str, BaseException] = {}

    def slot(self, label: str) -> Slot:
        return self._slots.setdefault(label, Slot(self._workspace, label))

    def discard(self, method_id: str) -> None:
        """The method's checkpoints go (its own and the one rank 0 wrote alone), with any failure kept of them."""
        for label in (method_id, _by_one(method_id)):
            if label in self._slots:
                self._slots.pop(label).discard()
            self._failed.pop(label, None)

    def close(self) -> None:
        for slot in self._slots.values():
            slot.discard()
        self._slots.clear()

    def saved(self, method, by_one: bool = False) -> Path:
        """The method's verified checkpoint; `by_one`: written by rank 0 on its own (a world of one), verified by rank
        0, for the loads resharded from one rank; every rank of the world waits for it."""
        label = _by_one(method.id) if by_one else method.id
        if label in self._failed:
            raise self._failed[label]
        slot, world = self.slot(label), self._world
        writer = solo(world) if by_one else world
        writes = takes_part(world, writer)
        try:
            if slot.root is None:
                root = ready(slot.replace(), world)
                save = partial(checkpoint.save, method, self._state, root, self._options.durability, writer)
                ranked(world, save if writes else lambda: None)()  # at N ranks: every rank learns of a failure
            if not slot.verified:
                pieces = checkpoint.targets(self._state, writer) if writer else None
                load = partial(checkpoint.load, method, slot.root, self._options.device, writer, pieces)
                loaded = ranked(world, load if writes else lambda: None)()
                require_round_trip(method, expected_state(self._state, writer) if writes else None, loaded, world)
                slot.verified = True
        except RankError as e:
            stop_on_rank_error(e)
        except BaseException as e:
            self._failed[label] = e
            raise
        return slot.root


def _by_one(method_id: str) -> str:
    return f"{method_id}-by-one"


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
