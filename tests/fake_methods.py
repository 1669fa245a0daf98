"""Test-only methods, added to a real benchmark run with `-p tests.fake_methods`."""
from types import SimpleNamespace

from bench import checkpoint, torch_io
from bench.methods import REGISTRY, Method


def _corrupting_load(root, method, device):
    tensors = torch_io.load(root, method, device)
    first = next(iter(tensors.values())).view(-1)
    first[0] = -first[0] - 1  # any value but the saved one
    return tensors


checkpoint.BACKENDS["corrupting"] = SimpleNamespace(save=torch_io.save, load=_corrupting_load)
REGISTRY["corrupting"] = Method("corrupting", "Corrupts on load", "corrupting")


HOG_BYTES = 200 * 2**20


def _hog_save(tensors, root, method, durability):
    buf = bytearray(HOG_BYTES)
    buf[::4096] = b"\1" * len(range(0, HOG_BYTES, 4096))  # touch every page so that it is resident
    torch_io.save(tensors, root, method, durability)


checkpoint.BACKENDS["hog"] = SimpleNamespace(save=_hog_save, load=torch_io.load)
REGISTRY["hog"] = Method("hog", "Touches 200 MiB while saving", "hog")
