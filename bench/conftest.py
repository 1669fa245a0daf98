"""Fixtures shared by the benchmarks: the method parameter, rounds, and each method's checkpoint slot."""
from __future__ import annotations

import pytest

from bench import checkpoint, sweep
from bench.plugin import find_method
from bench.record import require_round_trip
from bench.workspace import Slot
from runschema import SWEEP_AXES


def pytest_configure(config):
    config.addinivalue_line("markers", "sweep: the parameter sweep, run only with --ckpt-sweep")


def pytest_generate_tests(metafunc):
    """Every benchmark is parametrised by plain strings, so that the stored run's `params` read as they are (e.g.
    --benchmark-group-by=param:method); the `method` fixture turns the id into the Method."""
    if "method" not in metafunc.fixturenames or "method" in _already_parametrised(metafunc):
        return
    # module scope: pytest runs every operation of one method, then the next method
    if metafunc.definition.get_closest_marker("sweep"):
        rows = sweep.params()
        metafunc.parametrize(("method", *SWEEP_AXES), rows, ids=[r[0] for r in rows], indirect=["method"], scope="module")
    else:
        ids = [m.id for m in metafunc.config.ckpt_options.methods]
        metafunc.parametrize("method", ids, ids=ids, indirect=True, scope="module")


def _already_parametrised(metafunc) -> set[str]:
    return {name for mark in metafunc.definition.iter_markers("parametrize") for name in _argnames(mark.args[0])}


def _argnames(names) -> list[str]:
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--ckpt-sweep"):
        return
    sweep_items = [item for item in items if item.get_closest_marker("sweep")]
    if sweep_items:
        config.hook.pytest_deselected(items=sweep_items)
        items[:] = [item for item in items if not item.get_closest_marker("sweep")]


@pytest.fixture(scope="module")
def method(request):
    """The Method named by the benchmark's `method` param."""
    return find_method(request.param)


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
def saved(benchmark, method, slot, state, options):
    """The method's verified checkpoint: the save benchmark's last round, or (save deselected) written here."""
    if slot.root is None:
        checkpoint.save(method, state, slot.replace(), options.durability)
    if not slot.verified:
        require_round_trip(benchmark, method, state, checkpoint.load(method, slot.root, options.device))
        slot.verified = True
    return slot.root
