"""Test-only slowdown for a real benchmark run: `-p tests.slow_methods --ckpt-slow METHOD:OPERATION[:FACTOR]`.

The method's save, or its load (load-cold and load-warm), really takes FACTOR times as long (default 2):
after doing the real work it sleeps FACTOR - 1 times as long as that work took. Nothing stored is edited.
"""
import time
from types import SimpleNamespace

import pytest

from bench import checkpoint
from bench.methods import REGISTRY

# where the method is among a backend's arguments: save(tensors, root, method, durability), load(root, method, device)
ARGUMENT = {"save": 2, "load": 1}


def pytest_addoption(parser):
    parser.addoption("--ckpt-slow", metavar="METHOD:OPERATION[:FACTOR]",
                     help="test only: make METHOD's save or load FACTOR (default 2) times as slow, e.g. ts+chunks:save")


def _slower(work, position: int, method_id: str, factor: float):
    def slowed(*args):
        start = time.perf_counter()
        result = work(*args)
        if args[position].id == method_id:
            time.sleep((factor - 1) * (time.perf_counter() - start))
        return result

    return slowed


def pytest_configure(config):
    spec = config.getoption("ckpt_slow")
    if not spec:
        return
    method_id, operation, factor = (spec.split(":") + ["2"])[:3]
    if method_id not in REGISTRY or operation not in ARGUMENT or not factor.replace(".", "", 1).isdigit():
        raise pytest.UsageError(f"--ckpt-slow {spec}: expected METHOD:save or METHOD:load[:FACTOR], METHOD registered")
    name = REGISTRY[method_id].backend
    backend = checkpoint.BACKENDS[name]
    ops = {op: getattr(backend, op) for op in ARGUMENT}
    ops[operation] = _slower(ops[operation], ARGUMENT[operation], method_id, float(factor))
    checkpoint.BACKENDS[name] = SimpleNamespace(**ops)
