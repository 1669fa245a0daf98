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
