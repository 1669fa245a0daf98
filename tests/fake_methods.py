"""Test-only methods, added to a real benchmark run with `-p tests.fake_methods`."""
import os
import signal
import time
from dataclasses import dataclass
from typing import ClassVar

import torch.distributed as dist

from bench.async_save import background
from bench.backends.torch_file import TorchFile
from bench.checkpoint import bitwise_equal
from bench.methods import REGISTRY, Method

HOG_BYTES = 200 * 2**20


@dataclass(frozen=True)
class Corrupting(TorchFile):
    """A torch file whose load changes one value."""

    name: ClassVar[str] = "corrupting"

    def load(self, root, *, device):
        tensors = super().load(root, device=device)
        first = next(iter(tensors.values())).view(-1)
        first[0] = -first[0] - 1  # any value but the saved one
        return tensors


@dataclass(frozen=True)
class Hog(TorchFile):
    """A torch file whose save first touches HOG_BYTES of memory."""

    name: ClassVar[str] = "hog"

    def save(self, tensors, root, *, durability):
        buf = bytearray(HOG_BYTES)
        buf[::4096] = b"\1" * len(range(0, HOG_BYTES, 4096))  # touch every page so that it is resident
        super().save(tensors, root, durability=durability)


@dataclass(frozen=True)
class RankFails(TorchFile):
    """Per-rank torch files whose save raises on rank 1 after its file is half written (at N ranks)."""

    name: ClassVar[str] = "rank-fails"

    def save_rank(self, pieces, root, *, durability, world):
        if world.rank == 1:
            (root / "rank-00001").mkdir()
            (root / "rank-00001" / "partial").write_bytes(b"\0" * 4096)
            raise OSError(28, "No space left on device (test)")
        super().save_rank(pieces, root, durability=durability, world=world)


@dataclass(frozen=True)
class RankDies(TorchFile):
    """Per-rank torch files whose save kills rank 1 (SIGKILL: nothing of it runs after)."""

    name: ClassVar[str] = "rank-dies"

    def save_rank(self, pieces, root, *, durability, world):
        if world.rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        super().save_rank(pieces, root, durability=durability, world=world)




@dataclass(frozen=True)
class AsyncFails(TorchFile):
    """A torch file whose asynchronous save fails in its background part: half the file is written, then the disk is
    full (ENOSPC). Its stall (the snapshot) succeeds. At N ranks only rank 1's fails."""

    name: ClassVar[str] = "async-fails"

    def serialise(self, host, path):
        if dist.is_initialized() and dist.get_world_size() > 1 and dist.get_rank() != 1:  # the other ranks save
            return super().serialise(host, path)
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        raise OSError(28, "No space left on device (test)")


@dataclass(frozen=True)
class NoSnapshot(TorchFile):
    """A broken asynchronous save: no snapshot; its background writes the caller's tensors themselves, once they have
    changed (the caller's next step; at most WAIT_S later), so that the checkpoint is torn whenever the caller
    overwrites them after the stall."""

    name: ClassVar[str] = "no-snapshot"
    WAIT_S: ClassVar[float] = 60.0

    def save_async(self, tensors, root, *, durability, staging):
        first = next(iter(tensors.values()))
        before = first.clone()

        def write():
            deadline = time.monotonic() + self.WAIT_S
            while bitwise_equal(first, before) and time.monotonic() < deadline:
                time.sleep(0.001)
            self.save(tensors, root, durability=durability)

        return background(write)


FAKES = {m.id: m for m in (
    Method("rank-fails", "Fails on rank 1 mid-save", RankFails()),
    Method("rank-dies", "Rank 1 is killed mid-save", RankDies()),
    Method("corrupting", "Corrupts on load", Corrupting()),
    Method("hog", "Touches 200 MiB while saving", Hog()),
    Method("async-fails", "Async save fails in the background", AsyncFails()),
    Method("no-snapshot", "Async save without a snapshot", NoSnapshot()),
)}
REGISTRY.update(FAKES)
