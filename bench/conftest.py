"""Fixtures shared by the benchmarks: the method parameter, rounds, and each method's checkpoint slot."""
from __future__ import annotations

from functools import partial

import pytest

from bench import checkpoint, sweep
from bench.async_save import process_group
from bench.operations import expected_state, ready, stop_on_rank_error, takes_part
from bench.plugin import find_method
from bench.ranks import RankError, ranked, solo
from bench.record import require_round_trip
from bench.workspace import Slot
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
def slot(method, workspace):
    s = Slot(workspace, method.id)
    yield s
    s.discard()


@pytest.fixture
def saved(benchmark, method, slot, state, options, world):
    """The method's verified checkpoint: the save benchmark's last round, or (save deselected) written here."""
    return _verified(benchmark, method, slot, state, options, world)


@pytest.fixture(scope="module")
def async_group():
    """DCP's async_save wants a process group with a CPU backend: a one-rank gloo group, made outside every timer and
    destroyed at the end of the module (test_async.py, test_train.py), so that the rest of the run is as without
    --ckpt-async."""
    with process_group() as group:
        yield group


@pytest.fixture(scope="module")
def slot_by_one(method, workspace):
    s = Slot(workspace, f"{method.id}-by-one")
    yield s
    s.discard()


@pytest.fixture
def saved_by_one(benchmark, method, slot_by_one, state, options, world):
    """A checkpoint of the method written by rank 0 on its own (a world of one), verified by rank 0."""
    return _verified(benchmark, method, slot_by_one, state, options, world, writer=solo(world))


def _verified(benchmark, method, slot, state, options, world, writer=None):
    """`writer`: the World that writes it (default: `world`); every rank of `world` waits for it."""
    writer = world if writer is None else writer
    writes = takes_part(world, writer)
    try:
        if slot.root is None:
            root = ready(slot.replace(), world)
            save = partial(checkpoint.save, method, state, root, options.durability, writer)
            ranked(world, save if writes else lambda: None)()  # at N ranks: every rank learns of a failure
        if not slot.verified:
            pieces = checkpoint.targets(state, writer) if writer else None
            load = partial(checkpoint.load, method, slot.root, options.device, writer, pieces)
            loaded = ranked(world, load if writes else lambda: None)()
            expected = expected_state(state, writer) if writes else None
            require_round_trip(benchmark, method, expected, loaded, world)
            slot.verified = True
    except RankError as e:
        stop_on_rank_error(e)
    return slot.root
