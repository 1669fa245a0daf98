"""The one TensorStore save path and the one load path, parametrised by a method's config."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorstore as ts
import torch

_BF16 = ts.bfloat16.numpy_dtype
METADATA = {"zarr": ".zarray", "zarr3": "zarr.json"}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A host tensor as numpy without a copy; bfloat16 goes through its 16-bit pattern."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_BF16)
    return t.numpy()


def from_numpy(a: np.ndarray) -> torch.Tensor:
    if a.dtype == _BF16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def context(method, durability: str) -> ts.Context:
    spec: dict = {"file_io_sync": durability == "fsync"}
    if method.io_concurrency:
        spec["file_io_concurrency"] = {"limit": method.io_concurrency}
    return ts.Context(spec)


def kvstore(root: Path, name: str | None, method) -> dict:
    """Where one tensor lives (name None: the whole OCDBT database)."""
    if method.kvstore == "ocdbt":
        database = {"driver": "ocdbt", "base": {"driver": "file", "path": f"{root}/"}}
        return database if name is None else {**database, "path": f"{name}/"}
    return {"driver": "file", "path": str(root / name)}


def _zarr_metadata(a: np.ndarray, chunks: list[int], compressor: str | None) -> dict:
    return {
        "shape": list(a.shape),
        "chunks": chunks,
        "dtype": "bfloat16" if a.dtype == _BF16 else a.dtype.str,
        "compressor": {"id": compressor} if compressor else None,
        "fill_value": None,  # no fill value: every chunk is stored, so a missing one means damage
    }


def _zarr3_metadata(a: np.ndarray, chunks: list[int], compressor: str | None) -> dict:
    inner = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if compressor:
        inner.append({"name": compressor})
    return {
        "shape": list(a.shape),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [max(1, d) for d in a.shape]}},
        "data_type": a.dtype.name,
        "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": chunks, "codecs": inner}}],
        "fill_value": 0,
    }


_METADATA_BUILDERS = {"zarr": _zarr_metadata, "zarr3": _zarr3_metadata}


def write_spec(root: Path, name: str, a: np.ndarray, method) -> dict:
    chunks = method.chunks.shape_for(a.shape, a.dtype.itemsize)
    return {
        "driver": method.driver,
        "kvstore": kvstore(root, name, method),
        "metadata": _METADATA_BUILDERS[method.driver](a, chunks, method.compressor),
        "store_data_equal_to_fill_value": True,  # zarr3 needs a fill value; chunks equal to it are still written
        "create": True,
    }


def read_spec(root: Path, name: str, method) -> dict:
    # Without this a deleted chunk would silently read back as the fill value.
    return {"driver": method.driver, "kvstore": kvstore(root, name, method), "fill_missing_data_reads": False}


def _windows(items: list, in_flight: int | None):
    """Batches of `in_flight` items (all of them for None): each batch is issued at once, then awaited."""
    size = in_flight or max(1, len(items))
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _InFlight(list):
    """The futures a save has issued. TensorStore's threads go on writing after a KeyboardInterrupt (cancel() does
    not stop them, and they re-create deleted directories), so an interrupted save returns only once they are done."""

    def __call__(self, future):
        self.append(future)
        return future

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return
        for future in self:
            while True:
                try:
                    future.exception()  # waits; the save's own error is the one that propagates
                    break
                except KeyboardInterrupt:
                    continue  # a second Ctrl-C: the writes still have to end before anyone cleans up


def save(tensors: dict[str, torch.Tensor], root: Path, method, durability: str) -> None:
    ctx = context(method, durability)
    arrays = [(name, to_numpy(t.detach().cpu())) for name, t in tensors.items()]
    with _InFlight() as track:
        for batch in _windows(arrays, method.in_flight):
            opens = [track(ts.open(write_spec(root, name, a, method), context=ctx)) for name, a in batch]
            writes = [track(o.result().write(a)) for o, (_, a) in zip(opens, batch)]
            for w in writes:
                w.result()


def array_names(root: Path, method) -> list[str]:
    """The tensors of a checkpoint, from its metadata files."""
    marker = METADATA[method.driver]
    if method.kvstore == "ocdbt":
        keys = ts.KvStore.open(kvstore(root, None, method)).result().list().result()
        return sorted(k.decode()[: -len(marker) - 1] for k in keys if k.decode().endswith("/" + marker))
    return sorted(p.name for p in root.iterdir() if (p / marker).is_file())


def load(root: Path, method, device: torch.device) -> dict[str, torch.Tensor]:
    ctx = context(method, "none")
    names = array_names(root, method)
    out = {}
    for batch in _windows(names, method.in_flight):
        opens = [ts.open(read_spec(root, name, method), context=ctx) for name in batch]
        reads = [o.result().read() for o in opens]
        out.update((name, from_numpy(r.result()).to(device)) for name, r in zip(batch, reads))
    return out
