"""The one TensorStore save path and the one load path, parametrised by a method's config."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorstore as ts
import torch

_BF16 = ts.bfloat16.numpy_dtype
ZARRAY = ".zarray"


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A host tensor as numpy without a copy; bfloat16 goes through its 16-bit pattern."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_BF16)
    return t.numpy()


def from_numpy(a: np.ndarray) -> torch.Tensor:
    if a.dtype == _BF16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _zarr_dtype(a: np.ndarray) -> str:
    return "bfloat16" if a.dtype == _BF16 else a.dtype.str


def context(method, durability: str) -> ts.Context:
    spec: dict = {"file_io_sync": durability == "fsync"}
    if method.io_concurrency:
        spec["file_io_concurrency"] = {"limit": method.io_concurrency}
    return ts.Context(spec)


def write_spec(path: Path, a: np.ndarray, method) -> dict:
    return {
        "driver": "zarr",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {
            "shape": list(a.shape),
            "chunks": method.chunks.shape_for(a.shape, a.dtype.itemsize),
            "dtype": _zarr_dtype(a),
            "compressor": {"id": method.compressor} if method.compressor else None,
            "fill_value": None,  # no fill value: every chunk is stored, so a missing one means damage
        },
        "create": True,
    }


def read_spec(path: Path) -> dict:
    # Without this a deleted chunk would silently read back as the fill value.
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, "fill_missing_data_reads": False}


def save(tensors: dict[str, torch.Tensor], root: Path, method, durability: str) -> None:
    ctx = context(method, durability)
    arrays = {name: to_numpy(t.detach().cpu()) for name, t in tensors.items()}
    if method.concurrent:
        opens = {name: ts.open(write_spec(root / name, a, method), context=ctx) for name, a in arrays.items()}
        writes = [opens[name].result().write(a) for name, a in arrays.items()]
        for w in writes:
            w.result()
    else:
        for name, a in arrays.items():
            ts.open(write_spec(root / name, a, method), context=ctx).result().write(a).result()


def array_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / ZARRAY).is_file())


def load(root: Path, method, device: torch.device) -> dict[str, torch.Tensor]:
    ctx = context(method, "none")
    names = array_names(root)
    if method.concurrent:
        opens = [ts.open(read_spec(root / n), context=ctx) for n in names]
        reads = [o.result().read() for o in opens]
        arrays = [r.result() for r in reads]
    else:
        arrays = [ts.open(read_spec(root / n), context=ctx).result().read().result() for n in names]
    return {n: from_numpy(a).to(device) for n, a in zip(names, arrays)}
