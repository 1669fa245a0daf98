"""Fixtures shared by the benchmarks: the method parameter, rounds, and each method's checkpoint."""
from __future__ import annotations

import pytest

from bench import sweep
from bench.async_save import process_group
from bench.handover import leave_out
from bench.operations import Checkpoints
from bench.plugin import find_method
from runschema import SWEEP_AXES


def pytest_configure(config):
    config.addinivalue_line("markers", "sweep: the parameter sweep, run only with --ckpt-sweep")
    config.addinivalue_line("markers", "ranks: needs several ranks (torchrun --nproc-per-node 2 or more)")
    config.addinivalue_line("markers", "async_save: asynchronous saves, run only with --ckpt-async")


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
    """The sweep runs only with --ckpt-sweep, the asynchronous saves with --ckpt-async, the resharded loads only at
    several ranks."""
    world = config.ckpt_world
    off = [] if config.getoption("--ckpt-sweep") else ["sweep"]
    off += [] if config.getoption("--ckpt-async") else ["async_save"]
    off += [] if world is not None and world.size > 1 else ["ranks"]
    deselected = [item for item in items if any(item.get_closest_marker(m) for m in off)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope="module")
def method(request):
    """The Method named by the benchmark's `method` param."""
    return find_method(request.param)


@pytest.fixture(scope="session")
def rounds(pytestconfig) -> int:
    """Timed rounds of every benchmark: pytest-benchmark's own --benchmark-min-rounds."""
    return pytestconfig.getoption("benchmark_min_rounds")


@pytest.fixture(scope="module")
def checkpoints(workspace, state, options, world):
    """The module's checkpoints, one per method (and per method written by rank 0 alone), removed at its end."""
    kept = Checkpoints(workspace, state, options, world)
    yield kept
    kept.close()


@pytest.fixture(scope="module")
def slot(request, method, checkpoints):
    """The method's checkpoint slot. Blocked, it goes when the module moves on to the next method (one checkpoint on
    disk at a time); where a module interleaves, every method's stays until the module ends."""
    yield checkpoints.slot(method.id)
    if not request.config.ckpt_schedule.keeps_checkpoints(request.path):
        checkpoints.discard(method.id)


@pytest.fixture
def saved(benchmark, method, slot, checkpoints):
    """The method's verified checkpoint: the save benchmark's last round, or (save deselected) written here."""
    return _left_out_unless(benchmark, lambda: checkpoints.saved(method))


@pytest.fixture(scope="module")
def async_group():
    """DCP's async_save wants a process group with a CPU backend: a one-rank gloo group, made outside every timer and
    destroyed at the end of the module (test_async.py, test_train.py), so that the rest of the run is as without
    --ckpt-async."""
    with process_group() as group:
        yield group


def _left_out_unless(benchmark, get):
    try:
        return get()
    except BaseException:
        leave_out(benchmark)
        raise
