"""Root conftest: the suite's options, the session model, the workspace and machine info (SPEC §1, §4, §5)."""
from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import torch

from bench import disk
from bench.ceiling import add_efficiency
from bench.checkpoint import one_line
from bench.models import PRESETS, ModelError, state_dict
from bench.options import Options, add_options
from bench.workspace import Workspace, raise_on_termination

pytest_plugins = ("plotting.pytest_plugin",)

TENSORS = pytest.StashKey[dict]()


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    try:
        config.ckpt_options = Options.from_config(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    raise_on_termination()


@pytest.hookimpl(trylast=True)  # after -k, -m and the sweep's deselection: only what will run counts
def pytest_collection_modifyitems(config, items):
    """What needs the model is checked here, before the first benchmark: a mistake is one usage line, not an error
    in every test."""
    benchmarks = [
        item for item in items  # --benchmark-skip (unless --benchmark-only) marks them skipped
        if "benchmark" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("skip")
    ]
    if not benchmarks or config.option.collectonly:
        return
    if config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False):
        raise pytest.UsageError(
            "--benchmark-disable: this suite's tests are its measurements and need the timer; "
            "drop it, or use --benchmark-skip to skip them"
        )
    _check_storage(config)
    options = config.ckpt_options
    methods = dict.fromkeys(p["method"] for item in benchmarks if "method" in (p := _params(item)))
    needed, largest = disk.space_needed(methods, _tensors(config), disk.block_bytes(options.ckpt_dir))
    free = disk.free_bytes(options.ckpt_dir)
    if free < needed:
        raise pytest.UsageError(
            f"--ckpt-dir {options.ckpt_dir}: {disk.human_bytes(free)} free, the run needs {disk.human_bytes(needed)} "
            f"({largest} and {disk.human_bytes(disk.SPACE_SLACK)} headroom); free space or point --ckpt-dir at a larger disk"
        )


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


def _params(item) -> dict:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec else {}


def _tensors(config) -> dict[str, torch.Tensor]:
    """The model's state dict on the session device, made once per session."""
    if TENSORS not in config.stash:
        options = config.ckpt_options
        config.stash[TENSORS] = {name: t.to(options.device) for name, t in _state_dict(options).items()}
    return config.stash[TENSORS]


def _state_dict(options) -> dict[str, torch.Tensor]:
    try:
        return state_dict(options.model, options.dtype)
    except ModelError as e:
        raise pytest.UsageError(str(e)) from None
    except Exception as e:  # a local model's files can fail in any library under transformers (safetensors, zip)
        if options.model in PRESETS:
            raise
        raise pytest.UsageError(
            f"--ckpt-model {options.model}: cannot load its weights ({one_line(e)}); check or re-save the model directory"
        ) from None


@pytest.fixture(scope="session")
def options(pytestconfig) -> Options:
    return pytestconfig.ckpt_options


@pytest.fixture(scope="session")
def tensors(pytestconfig) -> dict[str, torch.Tensor]:
    """The model's state dict on the session device."""
    return _tensors(pytestconfig)


@pytest.fixture(scope="session")
def model_info(options, tensors) -> dict:
    """What every benchmark of the run stores about the model it measured."""
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()})
    return {
        "model": options.model,
        "dtype": ",".join(dtypes),
        "device": str(options.device),
        "n_tensors": len(tensors),
        "logical_bytes": sum(t.numel() * t.element_size() for t in tensors.values()),
        "durability": options.durability,
    }


@pytest.fixture(scope="session")
def workspace(options):
    ws = Workspace(options.ckpt_dir)
    yield ws
    ws.remove()


def pytest_benchmark_update_machine_info(config, machine_info):
    options = getattr(config, "ckpt_options", None)
    if options is None:
        return
    machine_info["ckpt_bench"] = {
        **{pkg: version(pkg) for pkg in ("torch", "tensorstore", "transformers", "pytest-benchmark")},
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "ckpt_dir": str(options.ckpt_dir),
        "ckpt_filesystem": disk.filesystem_of(options.ckpt_dir),
        "ckpt_free_bytes": disk.free_bytes(options.ckpt_dir),
        "eviction": "syncfs of the checkpoint's file system, then posix_fadvise(POSIX_FADV_DONTNEED) on every file",
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_benchmark_generate_json(config, benchmarks, include_data, machine_info, commit_info):
    outcome = yield
    add_efficiency(outcome.get_result())  # needs every median of the run, so it is added as the JSON is made
