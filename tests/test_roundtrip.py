"""Verification: every method's load returns exactly what was saved."""
import json

import pytest
import torch

from bench import checkpoint
from bench.methods import REGISTRY
from tests.conftest import awkward_tensors

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("durability", checkpoint.DURABILITY)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_round_trip_is_bitwise(method, dtype, durability, workspace):
    tensors = awkward_tensors(dtype)
    assert not tensors["strided"].is_contiguous() and not tensors["transposed"].is_contiguous()
    root = workspace.fresh(method.id)
    checkpoint.save(method, tensors, root, durability)
    loaded = checkpoint.load(method, root, torch.device("cpu"))
    assert checkpoint.mismatches(tensors, loaded) == []
    assert {n: (t.dtype, t.shape) for n, t in loaded.items()} == {n: (t.dtype, t.shape) for n, t in tensors.items()}


def test_mismatches_sees_a_single_flipped_bit_a_dtype_and_a_missing_name():
    a = {"x": torch.tensor([1.0, 2.0]), "y": torch.zeros(2)}
    flipped = a["x"].clone()
    flipped.view(torch.int32)[1] ^= 1
    assert checkpoint.mismatches(a, {"x": flipped, "y": a["y"]}) == ["x"]
    assert checkpoint.mismatches(a, {"x": a["x"].half(), "y": a["y"]}) == ["x"]
    assert checkpoint.mismatches(a, {"x": a["x"]}) == ["y"]
    assert checkpoint.mismatches(a, {"x": a["x"], "y": -a["y"]}) == ["y"]  # -0.0 is not 0.0, bit for bit


@pytest.mark.parametrize("method_id", ["tensorstore", "t5x", "ts+chunks"])
def test_zarr_layout_one_array_per_tensor_with_its_chunks(method_id, workspace):
    method = REGISTRY[method_id]
    tensors = awkward_tensors(torch.float16)
    root = workspace.fresh(method.id)
    checkpoint.save(method, tensors, root, "none")
    assert method.format.array_names(root) == sorted(tensors)
    meta = json.loads((root / "prime" / ".zarray").read_text())
    assert meta["chunks"] == method.format.chunks.shape_for((32003,), 2)
    assert meta["dtype"] == "<f2"
    assert (meta["compressor"] or {}).get("id") == method.format.compressor
    assert meta["fill_value"] is None
