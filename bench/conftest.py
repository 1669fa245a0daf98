"""Fixtures shared by the benchmarks: the method parameter, rounds, and each method's checkpoint slot."""
from __future__ import annotations

import pytest

from bench import checkpoint, sweep
from bench.record import require_round_trip
from bench.workspace import Slot


def pytest_configure(config):
    config.addinivalue_line("markers", "sweep: the parameter sweep, run only with --ckpt-sweep")


def pytest_generate_tests(metafunc):
    if "method" in metafunc.fixturenames:
        is_sweep = metafunc.definition.get_closest_marker("sweep")
        methods = sweep.grid() if is_sweep else metafunc.config.ckpt_options.methods
        # module scope: pytest runs every operation of one method, then the next method
        metafunc.parametrize("method", methods, ids=[m.id for m in methods], scope="module")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--ckpt-sweep"):
        return
    sweep_items = [item for item in items if item.get_closest_marker("sweep")]
    if sweep_items:
        config.hook.pytest_deselected(items=sweep_items)
        items[:] = [item for item in items if not item.get_closest_marker("sweep")]


@pytest.fixture(scope="session")
def rounds(pytestconfig) -> int:
    """Timed rounds of every benchmark: pytest-benchmark's own --benchmark-min-rounds."""
    return pytestconfig.getoption("benchmark_min_rounds")


@pytest.fixture(scope="module")
def slot(method, workspace):
    s = Slot(workspace, method.id)
    yield s
    s.discard()


@pytest.fixture
def saved(benchmark, method, slot, tensors, options):
    """The method's verified checkpoint: the save benchmark's last round, or (save deselected) written here."""
    if slot.root is None:
        checkpoint.save(method, tensors, slot.replace(), options.durability)
    if not slot.verified:
        require_round_trip(benchmark, method, tensors, checkpoint.load(method, slot.root, options.device))
        slot.verified = True
    return slot.root
