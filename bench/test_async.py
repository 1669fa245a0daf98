"""Asynchronous saves, only with --ckpt-async (README: Asynchronous saves): for every selected method, the stall that
training pays (group async-stall: from the call until the tensors may change again) and the time until the
checkpoint is durable (group async-durable: from the call until it is on stable storage, directories synced with
--ckpt-durability fsync). Both run with a warm-up round (bench/timing.py measure): it allocates the staging buffers
that the timed rounds reuse, and the peak memory of what the timer covers is measured in it.

No torn snapshots: after every async-stall round, before anything else, the source tensors are overwritten (every
bit flipped: training's next step), the save is awaited, the tensors are put back, and the checkpoint is loaded and
compared bit for bit with them. A method whose checkpoint saw any byte change after its stall fails its test.

Under torchrun every rank saves its pieces of the state (bench.checkpoint.save_async with a World) and overwrites the
pieces it holds; a round ends when every rank's has (the slowest rank's time)."""
from __future__ import annotations

import pytest

from bench import checkpoint, disk
from bench.async_save import Overwrite, Staging
from bench.operations import expected_state, ranks, ready, require_async_save, stop_on_rank_error
from bench.ranks import RankError, ranked
from bench.record import method_identity, record, require_round_trip
from bench.handover import measure
from runschema import ASYNC_DURABLE, ASYNC_STALL

pytestmark = pytest.mark.async_save


@pytest.mark.benchmark(group=ASYNC_STALL)
def test_async_stall(benchmark, method, slot, state, options, model_info, rounds, async_group, world):
    timed_async(benchmark, method, slot, state, options, model_info, rounds, world, stall=True)


@pytest.mark.benchmark(group=ASYNC_DURABLE)
def test_async_durable(benchmark, method, slot, state, options, model_info, rounds, async_group, world):
    timed_async(benchmark, method, slot, state, options, model_info, rounds, world, stall=False)


def timed_async(benchmark, method, slot, state, options, model_info, rounds, world, stall: bool) -> None:
    """At N ranks (a World) every rank saves its pieces; a round's time is the slowest rank's (bench.operations)."""
    require_async_save(method, world)
    saves = AsyncRounds(benchmark, method, slot, state, options, world, stall)
    try:
        # a warm-up round always: it allocates the staging buffers that the timed rounds reuse
        measured = measure(benchmark, ranked(world, saves.stall if stall else saves.durable), saves.setup, rounds,
                           options.device, warmup=True, disk_path=options.ckpt_dir)
        saves.settle()  # the last round's
        if not stall:
            saves.verify()
    except BaseException as e:
        saves.close()
        if isinstance(e, RankError):
            world.barrier()  # every rank is here: no rank's background still writes into what is deleted next
        slot.discard()  # a failed save's partial checkpoint must not be loaded as if it were whole
        stop_on_rank_error(e)
        raise
    saves.close()
    record(benchmark, method_identity(method), model_info, disk.usage(slot.root), measured, world,
           ranks(state, world, saving=True))


class AsyncRounds:
    """The rounds of one async benchmark: the method's staging buffers (allocated in the untimed round, reused by the
    timed ones), and the save still in the background when a round's timer stops."""

    def __init__(self, benchmark, method, slot, state, options, world, stall: bool):
        self._benchmark, self._method, self._slot, self._state = benchmark, method, slot, state
        self._durability, self._device, self._world = options.durability, options.device, world
        self._staging = Staging()
        # what training changes: at N ranks the pieces a rank holds, which its save writes from
        self._overwrite = (Overwrite(state if world is None else checkpoint.held(state, world)) if stall else None)
        self._pending = None

    def setup(self) -> tuple:
        """Untimed: the previous round's save settled and checked, a fresh empty directory (on every rank)."""
        self.settle()
        return (self._method, self._state, ready(self._slot.replace(), self._world), self._durability, self._staging,
                self._world)

    def stall(self, *args):
        """Timed (async-stall): until save_async returns."""
        self._pending = checkpoint.save_async(*args)
        return self._pending

    def durable(self, *args):
        """Timed (async-durable): until the checkpoint is on stable storage. At N ranks the ranks agree that every
        stall succeeded before any waits: a rank whose stall failed would never join the others' uploads."""
        ranked(self._world, self.stall)(*args).wait()

    def settle(self) -> None:
        """The last round's save, right after its timer stopped: in async-stall the tensors are overwritten first
        (nothing but pytest-benchmark's bookkeeping ran since the stall ended), then the save is awaited (its
        background error raised), the tensors put back and the checkpoint compared with them bit for bit."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        if self._overwrite is not None:
            self._overwrite.apply()
        try:
            pending.wait()
        finally:
            if self._overwrite is not None:
                self._overwrite.undo()
        if self._overwrite is not None:
            self.verify()

    def verify(self) -> None:
        world = self._world
        pieces = checkpoint.targets(self._state, world) if world is not None else None
        loaded = ranked(world, checkpoint.load)(self._method, self._slot.root, self._device, world, pieces)
        require_round_trip(self._method, expected_state(self._state, world), loaded, world, self._benchmark)

    def close(self) -> None:
        """Whatever happened: no save still writes, the tensors are as they were, the buffers go."""
        if self._pending is not None:
            self._pending.settle()
            self._pending = None
        if self._overwrite is not None:
            self._overwrite.undo()
        self._staging.close()

