"""Test-only methods, added to a real benchmark run with `-p tests.fake_methods`."""
import os
import signal
from dataclasses import dataclass
from typing import ClassVar

from bench.backends.torch_file import TorchFile
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


REGISTRY["rank-fails"] = Method("rank-fails", "Fails on rank 1 mid-save", RankFails())
REGISTRY["rank-dies"] = Method("rank-dies", "Rank 1 is killed mid-save", RankDies())
REGISTRY["corrupting"] = Method("corrupting", "Corrupts on load", Corrupting())
REGISTRY["hog"] = Method("hog", "Touches 200 MiB while saving", Hog())


@dataclass(frozen=True)
class AsyncFails(TorchFile):
    """A torch file whose asynchronous save fails in its background part: half the file is written, then the disk is
    full (ENOSPC). Its stall (the snapshot) succeeds."""

    name: ClassVar[str] = "async-fails"

    def serialise(self, host, path):
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        raise OSError(28, "No space left on device (test)")


REGISTRY["async-fails"] = Method("async-fails", "Async save fails in the background", AsyncFails())
