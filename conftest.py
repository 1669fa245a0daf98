"""Root conftest: the suite's options, the session model, the workspace and machine info (SPEC §1, §4, §5)."""
from __future__ import annotations

from importlib.metadata import version

import pytest
import torch

from bench import disk
from bench.ceiling import add_efficiency
from bench.models import state_dict
from bench.options import Options, add_options
from bench.workspace import Workspace, raise_on_sigterm

pytest_plugins = ("plotting.pytest_plugin",)

SPACE_MARGIN = 1.2  # headroom over the logical bytes: chunk padding, metadata, one round in flight
SPACE_SLACK = 64 * 2**20


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    try:
        config.ckpt_options = Options.from_config(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    raise_on_sigterm()


@pytest.fixture(scope="session")
def options(pytestconfig) -> Options:
    return pytestconfig.ckpt_options


@pytest.fixture(scope="session")
def tensors(options) -> dict[str, torch.Tensor]:
    """The model's state dict on the session device."""
    try:
        sd = state_dict(options.model, options.dtype)
    except ValueError as e:
        pytest.exit(str(e), returncode=4)
    return {name: t.to(options.device) for name, t in sd.items()}


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
def workspace(options, model_info):
    needed = int(model_info["logical_bytes"] * SPACE_MARGIN) + SPACE_SLACK
    free = disk.free_bytes(options.ckpt_dir)
    if free < needed:
        pytest.exit(
            f"--ckpt-dir {options.ckpt_dir}: {free / 1e9:.2f} GB free, the run needs {needed / 1e9:.2f} GB; "
            "free space or point --ckpt-dir at a larger disk",
            returncode=4,
        )
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
        "eviction": "fsync + posix_fadvise(POSIX_FADV_DONTNEED) on every checkpoint file",
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_benchmark_generate_json(config, benchmarks, include_data, machine_info, commit_info):
    outcome = yield
    add_efficiency(outcome.get_result())  # needs every median of the run, so it is added as the JSON is made
