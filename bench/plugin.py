"""The suite's pytest plugin: options, the session model, checks before the first benchmark, machine info, the run's
own JSON fields, progress lines. Registered by the root conftest.py; inert in a run that collects no benchmark."""
from __future__ import annotations

import dataclasses
import functools
import os
import sys
from pathlib import Path

import pytest
import torch

from bench import disk, machine, nested, ranks, sweep
from bench.aliases import unique_bytes
from bench.methods import REGISTRY, Method
from bench.models import ModelError, describe, state_dict
from bench.options import Options, add_options
from bench.schedule import Schedule
from bench.training_state import DESCRIPTIONS, training_state
from bench.workspace import Workspace, raise_on_termination
from runschema import BLOCKED, SCHEMA_VERSION, add_efficiency

STATE = pytest.StashKey[object]()
# pytest-benchmark's options for rounds it times itself (calibration, cProfile); the suite times every round itself
IGNORED = ("--benchmark-max-time", "--benchmark-min-time", "--benchmark-warmup-iterations", "--benchmark-cprofile")


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its storage options and the terminal opens
def pytest_configure(config):
    try:
        config.ckpt_options = Options.from_config(config)
        config.ckpt_world = _join_ranks(config) if ranks.launched() else None
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    config.ckpt_schedule = Schedule(BLOCKED, config.getoption("benchmark_min_rounds"))  # until the items are known


def _join_ranks(config) -> ranks.World:
    """Under torchrun: join the process group; on CUDA each rank uses its own GPU. Rank 0 alone stores the run and
    prints; the other ranks print only their errors (stderr)."""
    options = config.ckpt_options
    world = ranks.start(options.device.type, background=options.async_save)
    if options.device.type == "cuda":
        config.ckpt_options = dataclasses.replace(options, device=torch.device("cuda", world.local_rank))
    if not world.main:
        for name, off in (("benchmark_json", None), ("benchmark_autosave", False), ("benchmark_save", None)):
            setattr(config.option, name, off)
        config.pluginmanager.register(_Quiet(config), "ckpt-bench-quiet")
    return world


class _Quiet:
    """A rank other than 0: its terminal output goes nowhere; a test that fails on it alone is one line on stderr (a
    failure all ranks agreed on is rank 0's to report)."""

    def __init__(self, config):
        self._stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # the terminal reporter, made next, writes here

    def pytest_sessionstart(self, session):  # the terminal reporter has its stream by now
        sys.stdout = self._stdout

    def pytest_runtest_logreport(self, report):
        if report.failed and "RankError" not in report.longreprtext:
            last = report.longreprtext.strip().splitlines()[-1:] or ["failed"]
            sys.stderr.write(f"ckpt-bench rank {os.environ.get('RANK')}: {report.nodeid}: {last[0]}\n")


def pytest_unconfigure(config):
    if getattr(config, "ckpt_world", None) is not None:
        ranks.stop()


def _benchmarks(items) -> list:
    """The benchmarks that will run: --benchmark-skip (unless --benchmark-only) marks them skipped."""
    return [i for i in items if "benchmark" in getattr(i, "fixturenames", ()) and not i.get_closest_marker("skip")]


@pytest.hookimpl(trylast=True)  # after -k, -m and the sweep's deselection: only what will run counts
def pytest_collection_modifyitems(config, items):
    """What needs the model is checked here, before the first benchmark: a mistake is one usage line, not an error
    in every test."""
    benchmarks = _benchmarks(items)
    config.ckpt_schedule = Schedule.of(benchmarks, config.ckpt_options.order, config.getoption("benchmark_min_rounds"),
                                       _progress(config))
    config.ckpt_schedule.reorder(items)
    if not benchmarks or config.option.collectonly:
        return
    if sys.platform != "linux":
        raise pytest.UsageError(
            f"ckpt-bench needs Linux (syncfs, posix_fadvise and /proc measure durability, cold reads and memory); "
            f"this is {sys.platform}"
        )
    if config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False):
        raise pytest.UsageError(
            "--benchmark-disable: this suite's tests are its measurements and need the timer; "
            "drop it, or use --benchmark-skip to skip them"
        )
    _warn_ignored(config)
    _check_storage(config)
    methods = _methods(benchmarks)
    _check_dtypes(methods, _flat(config))
    _check_space(config, methods, [m for m in map(find_method, config.ckpt_schedule.methods()) if m is not None])
    config.pluginmanager.register(Progress(config), "ckpt-bench-progress")


def _warn_ignored(config) -> None:
    given = [opt for opt in IGNORED for arg in config.invocation_params.args if str(arg).split("=")[0] == opt]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if given and reporter is not None:
        reporter.write_line(
            f"ckpt-bench: warning: {', '.join(dict.fromkeys(given))} ignored: the suite runs and times every "
            f"benchmark's --benchmark-min-rounds rounds itself (after one untimed round with --benchmark-warmup on) "
            f"and hands them to pytest-benchmark; to profile a method, use py-spy record --native", yellow=True)


def _check_storage(config) -> None:
    """pytest-benchmark writes the run only after the last benchmark: an unwritable storage would lose all of it."""
    storage = config.getoption("benchmark_storage", "")
    saving = config.getoption("benchmark_autosave", False) or config.getoption("benchmark_save", None)
    if not saving or ("://" in storage and not storage.startswith("file://")):
        return
    try:
        disk.probe_writable(Path(storage.removeprefix("file://")))
    except OSError as e:
        raise pytest.UsageError(
            f"--benchmark-storage {storage}: cannot write the run there ({e.strerror}); choose a writable directory"
        ) from None


def _methods(benchmarks) -> list[Method]:
    """The methods the benchmarks that will run measure, each once."""
    ids = [item.callspec.params.get("method") for item in benchmarks if hasattr(item, "callspec")]
    return list(dict.fromkeys(m for m in map(find_method, ids) if m is not None))


def _check_dtypes(methods: list[Method], tensors: dict[str, torch.Tensor]) -> None:
    dtypes = sorted({t.dtype for t in tensors.values()}, key=str)
    for method in methods:
        refused = [str(d).removeprefix("torch.") for d in dtypes if not method.format.stores(d)]
        if refused:
            raise pytest.UsageError(
                f"--ckpt-methods {method.id}: its format cannot store {', '.join(refused)} tensors, which the model "
                f"has; leave {method.id} out, or cast the floating-point tensors with --ckpt-dtype"
            )


def _check_space(config, methods: list[Method], together: list[Method]) -> None:
    options = config.ckpt_options
    world = config.ckpt_world
    copies = 2 if world is not None and world.size > 1 else 1
    needed, largest = disk.space_needed(methods, _flat(config), disk.block_bytes(options.ckpt_dir), copies, together)
    free = disk.free_bytes(options.ckpt_dir)
    if free < needed:
        raise pytest.UsageError(
            f"--ckpt-dir {options.ckpt_dir}: {disk.human_bytes(free)} free, the run needs {disk.human_bytes(needed)} "
            f"({largest} and {disk.human_bytes(disk.SPACE_SLACK)} headroom); free space or point --ckpt-dir at a larger disk"
        )


def _progress(config):
    """Where an interleaved cohort says which round it is at: its tests' rounds all run in the first of them, whose
    output pytest would otherwise capture until it ends."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def line(text: str) -> None:
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(text)

    return line


def find_method(method_id: str | None) -> Method | None:
    """The Method behind a benchmark's `method` param: a registered method or a sweep point (None: the ceiling)."""
    return REGISTRY.get(method_id) or _sweep_points().get(method_id)


@functools.cache
def _sweep_points() -> dict[str, Method]:
    return {m.id: m for m in sweep.grid()}


def _state(config):
    """What every method checkpoints, on the session device, made once per session: the model's state dict, or
    nested training state around it (--ckpt-state); tensors that share a storage in the model still share it."""
    if STATE not in config.stash:
        options = config.ckpt_options
        model = _model_usage(state_dict, options.model, options.dtype, options.device)
        config.stash[STATE] = training_state(options.state, model)
    return config.stash[STATE]


def _flat(config) -> dict[str, torch.Tensor]:
    """The state's tensors under the names the formats store them by."""
    return nested.flatten(_state(config))[0]


def pytest_report_header(config) -> list[str]:
    """What --ckpt-model reads (the preset, or the local files, their format and tensor count) and --ckpt-state adds."""
    options = config.ckpt_options
    return [f"ckpt-bench model: {_model_usage(describe, options.model)}",
            f"ckpt-bench state: {options.state} ({DESCRIPTIONS[options.state]})"]


def _model_usage(function, *args):
    """A --ckpt-model that cannot be read stops the run with one usage line."""
    try:
        return function(*args)
    except ModelError as e:
        raise pytest.UsageError(str(e)) from None


@pytest.fixture(scope="session")
def options(pytestconfig) -> Options:
    return pytestconfig.ckpt_options


@pytest.fixture(scope="session")
def state(pytestconfig):
    """What every method checkpoints: the model's state dict, or nested training state (--ckpt-state)."""
    return _state(pytestconfig)


@pytest.fixture(scope="session")
def tensors(pytestconfig) -> dict[str, torch.Tensor]:
    """The state's tensors under flat names, as the formats store them."""
    return _flat(pytestconfig)


@pytest.fixture(scope="session")
def model_info(options, tensors) -> dict:
    """What every benchmark of the run stores about the model and state it measured."""
    return state_info(options, options.state, tensors)


def state_info(options: Options, state: str, tensors: dict[str, torch.Tensor]) -> dict:
    """What a benchmark stores about the checkpointed state: its kind (--ckpt-state's names) and flat tensors."""
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()})
    return {
        "model": options.model,
        "state": state,
        "dtype": ",".join(dtypes),
        "device": str(options.device),
        "n_tensors": len(tensors),
        "logical_bytes": unique_bytes(tensors),  # a tied tensor is stored once by every method
        "durability": options.durability,
    }


@pytest.fixture(scope="session")
def world(pytestconfig) -> ranks.World | None:
    """This rank's World under torchrun; None in a plain pytest run (one process)."""
    return pytestconfig.ckpt_world


@pytest.fixture(scope="session")
def workspace(options, world):
    raise_on_termination()  # only a run that writes checkpoints turns SIGTERM/SIGHUP into a clean-up
    ws = Workspace(options.ckpt_dir, world)
    yield ws
    if world is not None:
        try:
            world.barrier()  # no rank deletes what another still reads
        except Exception:  # a rank is gone: remove what is left anyway
            pass
    ws.remove()


def pytest_benchmark_update_machine_info(config, machine_info):
    options = getattr(config, "ckpt_options", None)
    if options is not None:
        machine.update(machine_info, options.ckpt_dir)


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """The run's own fields, beside pytest-benchmark's: efficiency needs every median of the run, and what changes
    from run to run (free space) stays out of machine_info."""
    add_efficiency(output_json["benchmarks"])
    options = getattr(config, "ckpt_options", None)
    output_json["ckpt_bench"] = {
        "schema_version": SCHEMA_VERSION,
        "ckpt_free_bytes": disk.free_bytes(options.ckpt_dir) if options else None,
    }


class Progress:
    """Which benchmark is running, and how long each took: on `small` one benchmark can take minutes, and pytest's
    default output is one dot per test. A user's -q (or -v) is kept."""

    def __init__(self, config):
        if config.option.verbose == 0:
            config.option.verbose = 1  # pytest then names each test as it starts

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        if report.when == "call" and report.passed:
            runner = config.ckpt_schedule.ran_in.get(report.nodeid)
            took = f"in the rounds of {runner.rpartition('::')[2]}" if runner else f"in {report.duration:.1f} s"
            return "passed", ".", (f"PASSED {took}", {"green": True})
        return None
