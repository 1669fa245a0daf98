"""Shared helpers for the suite's own tests."""
import pytest
import torch

from bench.workspace import Workspace


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace(tmp_path)
    yield ws
    ws.remove()


def awkward_tensors(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Shapes that break naive chunking and serialisation: 0-d, 1-d, a prime dimension, a strided view, zeros."""
    g = torch.Generator().manual_seed(1)
    base = torch.randn(96, 130, generator=g).to(dtype)
    return {
        "scalar": torch.tensor(3.25, dtype=dtype),
        "vector": torch.randn(7, generator=g).to(dtype),
        "prime": torch.randn(32003, generator=g).to(dtype),
        "model.layers.0.mlp.up_proj.weight": torch.randn(200, 72, generator=g).to(dtype),
        "transposed": base.t(),
        "strided": base[::3, 1::2],
        "zeros": torch.zeros(130, 70, dtype=dtype),
    }
