"""Test-only methods, added to a real benchmark run with `-p tests.fake_methods`."""
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


REGISTRY["corrupting"] = Method("corrupting", "Corrupts on load", Corrupting())
REGISTRY["hog"] = Method("hog", "Touches 200 MiB while saving", Hog())
