"""Each format's error line, from its library's real errors, and the configuration every method stores."""
import json
import os
from dataclasses import fields

import pytest
import torch

from bench.backends.base import one_line
from bench.backends.dcp import Dcp
from bench.backends.tensorstore import TensorStore
from bench.backends.torch_file import FILENAME, TorchFile
from bench.chunks import FixedChunks
from bench.methods import REGISTRY

CPU = torch.device("cpu")
TENSORS = {"w": torch.arange(64 * 48, dtype=torch.float32).reshape(64, 48), "b": torch.ones(48)}


def _error(fmt, root) -> BaseException:
    with pytest.raises(BaseException) as e:
        fmt.load(root, device=CPU)
    return e.value


def _truncate(path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def test_a_truncated_tensorstore_chunk_is_one_line_without_the_spec(tmp_path):
    fmt = TensorStore(chunks=FixedChunks(16))
    fmt.save(TENSORS, tmp_path, durability="none")
    _truncate(tmp_path / "w" / "0.0")
    line = fmt.error_line(_error(fmt, tmp_path))
    assert line.startswith("ValueError: ") and "Not enough data" in line
    assert "tensorstore_spec" not in line and "source locations" not in line and "\n" not in line


def test_a_corrupted_zarray_is_one_line_without_the_spec(tmp_path):
    fmt = TensorStore(chunks=FixedChunks(16))
    fmt.save(TENSORS, tmp_path, durability="none")
    (tmp_path / "w" / ".zarray").write_text('{"zarr_format": 2, "shape": [')
    e = _error(fmt, tmp_path)
    assert "tensorstore_spec" in str(e)  # what the line has to cut
    line = fmt.error_line(e)
    assert line.endswith('w/.zarray": Invalid JSON') and "\n" not in line


class Unsafe:
    """A class of this module: not among the globals a weights-only unpickler allows."""


@pytest.mark.parametrize("mmap", [False, True])
def test_a_refused_pickle_is_torchs_reason_in_one_line(mmap, tmp_path):
    torch.save({"w": torch.ones(2), "object": Unsafe()}, tmp_path / FILENAME)
    fmt = TorchFile(mmap=mmap)
    e = _error(fmt, tmp_path)
    assert "\n" in str(e)  # torch's message is a paragraph
    line = fmt.error_line(e)
    assert line.startswith("UnpicklingError: torch.load(weights_only=True) refused it: Unsupported global: ")
    assert "Unsafe" in line and "\n" not in line


def test_a_truncated_dcp_file_is_the_cause_in_one_line(tmp_path):
    fmt = Dcp(threads=1)
    fmt.save(TENSORS, tmp_path, durability="none")
    (data,) = tmp_path.glob("*.distcp")
    _truncate(data)
    e = _error(fmt, tmp_path)
    assert "Traceback" in str(e)  # DCP's message is its workers' traceback
    line = fmt.error_line(e)
    assert line == "CheckpointException: EOFError"  # a tensor's bytes end early


def test_the_fallback_is_the_type_and_the_first_line():
    assert one_line(OSError("disk gone\nmore detail")) == "OSError: disk gone"
    assert TorchFile().error_line(OSError("disk gone\nmore detail")) == "OSError: disk gone"


@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_every_config_is_json_and_names_its_format_and_each_setting(method):
    config = json.loads(json.dumps(method.config()))
    assert config["id"] == method.id and config["label"] == method.label
    assert config["format"] == method.format.name
    assert {f.name for f in fields(method.format)} <= set(config)


def test_only_tensorstore_chunks_a_tensor():
    assert REGISTRY["pytorch"].format.chunk_shape((300, 7), 4) == [300, 7]
    assert REGISTRY["tensorstore"].format.chunk_shape((300, 7), 4) == [64, 7]
