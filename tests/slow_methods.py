"""Test-only slowdown for a real benchmark run: `-p tests.slow_methods --ckpt-slow METHOD:OPERATION[:FACTOR]`.

The method's save, or its load (load-cold and load-warm), really takes FACTOR times as long (default 2):
after doing the real work it sleeps FACTOR - 1 times as long as that work took. Nothing stored is edited.
"""
import dataclasses
import time

import pytest

from bench.methods import REGISTRY

OPERATIONS = ("save", "load")


class Slowed:
    """A format that does what `inner` does, and describes itself as `inner`, but one operation takes longer."""

    def __init__(self, inner, operation: str, factor: float):
        self._inner, self._operation, self._factor = inner, operation, factor

    def __getattr__(self, name):
        work = getattr(self._inner, name)
        if name != self._operation:
            return work

        def slowed(*args, **kwargs):
            start = time.perf_counter()
            result = work(*args, **kwargs)
            time.sleep((self._factor - 1) * (time.perf_counter() - start))
            return result

        return slowed


def pytest_addoption(parser):
    parser.addoption("--ckpt-slow", metavar="METHOD:OPERATION[:FACTOR]",
                     help="test only: make METHOD's save or load FACTOR (default 2) times as slow, e.g. ts+chunks:save")


@pytest.hookimpl(tryfirst=True)  # the registry entry must be replaced before the root conftest selects the methods
def pytest_configure(config):
    spec = config.getoption("ckpt_slow")
    if not spec:
        return
    method_id, operation, factor = (spec.split(":") + ["2"])[:3]
    if method_id not in REGISTRY or operation not in OPERATIONS or not factor.replace(".", "", 1).isdigit():
        raise pytest.UsageError(f"--ckpt-slow {spec}: expected METHOD:save or METHOD:load[:FACTOR], METHOD registered")
    method = REGISTRY[method_id]
    REGISTRY[method_id] = dataclasses.replace(method, format=Slowed(method.format, operation, float(factor)))
