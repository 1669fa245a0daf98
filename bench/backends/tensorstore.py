"""TensorStore: one array per tensor (zarr v2 or zarr3, in files or one OCDBT database), one save and one load path."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorstore as ts
import torch

from bench.async_save import background
from bench.backends.base import Format, to_host
from bench.chunks import FixedChunks, TargetChunks
from bench.sharding import piece

_BF16 = ts.bfloat16.numpy_dtype
METADATA = {"zarr": ".zarray", "zarr3": "zarr.json"}
_APPENDED = re.compile(r" \[(tensorstore_spec|source locations)=.*$")  # TensorStore appends its whole spec


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A host tensor as numpy without a copy; bfloat16 goes through its 16-bit pattern."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_BF16)
    return t.numpy()


def from_numpy(a: np.ndarray) -> torch.Tensor:
    if a.dtype == _BF16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _zarr_metadata(shape, dtype: np.dtype, grid, chunks: list[int], compressor: str | None) -> dict:
    return {
        "shape": list(shape),
        "chunks": chunks,
        "dtype": "bfloat16" if dtype == _BF16 else dtype.str,
        "compressor": {"id": compressor} if compressor else None,
        "fill_value": None,  # no fill value: every chunk is stored, so a missing one means damage
    }


def _zarr3_metadata(shape, dtype: np.dtype, grid, chunks: list[int], compressor: str | None) -> dict:
    """One shard (file) per `grid` block: the whole tensor in one process, a rank's rows at N ranks."""
    inner = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if compressor:
        inner.append({"name": compressor})
    return {
        "shape": list(shape),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [max(1, d) for d in grid]}},
        "data_type": dtype.name,
        "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": chunks, "codecs": inner}}],
        "fill_value": 0,
    }


_METADATA_BUILDERS = {"zarr": _zarr_metadata, "zarr3": _zarr3_metadata}


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


@dataclass(frozen=True)
class TensorStore(Format):
    chunks: FixedChunks | TargetChunks
    driver: str = "zarr"  # "zarr" (v2): chunks are files; "zarr3": one shard per tensor, chunks are inner chunks
    kvstore: str = "file"  # "file": a directory per tensor; "ocdbt": one database for all tensors
    compressor: str | None = None  # "gzip" or "zstd"
    in_flight: int | None = 1  # tensors issued at once and awaited together; None: all of them
    io_concurrency: int | None = None  # TensorStore's file_io_concurrency limit; None: its default

    name: ClassVar[str] = "tensorstore"

    def describe(self) -> dict:
        return {**super().describe(), "chunks": self.chunks.describe()}

    def stores(self, dtype: torch.dtype) -> bool:
        try:
            to_numpy(torch.empty(0, dtype=dtype))
        except TypeError:  # numpy has no such type (the float8 kinds), and TensorStore's arrays are numpy's
            return False
        return True

    def chunk_shape(self, shape: tuple[int, ...], itemsize: int) -> list[int]:
        return self.chunks.shape_for(shape, itemsize)

    def error_line(self, exc: BaseException) -> str:
        return _APPENDED.sub("", super().error_line(exc))

    def context(self, durability: str) -> ts.Context:
        spec: dict = {"file_io_sync": durability == "fsync"}
        if self.io_concurrency:
            spec["file_io_concurrency"] = {"limit": self.io_concurrency}
        return ts.Context(spec)

    def kvstore_spec(self, root: Path, name: str | None) -> dict:
        """Where one tensor lives (name None: the whole OCDBT database)."""
        if self.kvstore == "ocdbt":
            database = {"driver": "ocdbt", "base": {"driver": "file", "path": f"{root}/"}}
            return database if name is None else {**database, "path": f"{name}/"}
        return {"driver": "file", "path": str(root / name)}

    def write_spec(self, root: Path, name: str, shape, dtype: np.dtype, grid=None) -> dict:
        """`grid`: the block one writer writes (a rank's rows), which no chunk may straddle; None: the whole array."""
        grid = tuple(shape) if grid is None else tuple(grid)
        chunks = self.chunk_shape(grid, dtype.itemsize)
        if grid != tuple(shape) and grid[0]:
            chunks[0] = max(d for d in range(1, chunks[0] + 1) if grid[0] % d == 0)  # chunk rows divide a rank's rows
        return {
            "driver": self.driver,
            "kvstore": self.kvstore_spec(root, name),
            "metadata": _METADATA_BUILDERS[self.driver](shape, dtype, grid, chunks, self.compressor),
            "store_data_equal_to_fill_value": True,  # zarr3 needs a fill value; chunks equal to it are still written
            "create": True,
            "open": grid != tuple(shape),  # at N ranks every writer creates the same metadata, or opens it (T5X's way)
        }

    def read_spec(self, root: Path, name: str) -> dict:
        # Without this a deleted chunk would silently read back as the fill value.
        return {"driver": self.driver, "kvstore": self.kvstore_spec(root, name), "fill_missing_data_reads": False}

    def array_names(self, root: Path) -> list[str]:
        """The tensors of a checkpoint, from its metadata files."""
        marker = METADATA[self.driver]
        if self.kvstore == "ocdbt":
            keys = ts.KvStore.open(self.kvstore_spec(root, None)).result().list().result()
            return sorted(k.decode()[: -len(marker) - 1] for k in keys if k.decode().endswith("/" + marker))
        return sorted(p.name for p in root.iterdir() if (p / marker).is_file())

    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        ctx = self.context(durability)
        arrays = [(name, to_numpy(t)) for name, t in to_host(tensors).items()]
        with _InFlight() as track:
            for batch in _windows(arrays, self.in_flight):
                opens = [track(ts.open(self.write_spec(root, name, a.shape, a.dtype), context=ctx)) for name, a in batch]
                writes = [track(o.result().write(a)) for o, (_, a) in zip(opens, batch)]
                for w in writes:
                    w.result()

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """TensorStore's own asynchronous writes: the stall opens (creates) every array and issues every write at once
        (`in_flight` limits synchronous saves only: waiting for a window's commits would put the writes back into
        the stall), and lasts until every write's `copy` future is ready: TensorStore has copied the source into its
        own buffers, so the caller may modify it. The background waits for every `commit` (with file_io_sync the
        files are synced). A failed commit leaves a chunk missing, which load() refuses (fill_missing_data_reads is
        false)."""
        ctx = self.context(durability)
        arrays = [(name, to_numpy(t)) for name, t in to_host(tensors).items()]
        with _InFlight() as track:  # an error in the stall returns once TensorStore's threads are done
            opens = [track(ts.open(self.write_spec(root, name, a.shape, a.dtype), context=ctx)) for name, a in arrays]
            writes = [track(o.result().write(a)) for o, (_, a) in zip(opens, arrays)]
            for w in writes:
                w.copy.result()

        def committed(_alive=(ctx, opens)) -> None:  # the context and arrays stay alive until the commits end
            errors = [e for w in writes if (e := w.commit.exception()) is not None]  # every write ends before this does
            if errors:
                raise errors[0]

        return background(committed)

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        ctx = self.context("none")
        names = self.array_names(root)
        out = {}
        for batch in _windows(names, self.in_flight):
            opens = [ts.open(self.read_spec(root, name), context=ctx) for name in batch]
            reads = [o.result().read() for o in opens]
            out.update((name, from_numpy(r.result()).to(device)) for name, r in zip(batch, reads))
        return out

    def save_rank(self, pieces, root: Path, *, durability: str, world) -> None:
        """One global array per tensor; each rank writes its rows (rank 0 the replicated tensors), with chunks from
        the rows a rank holds, so that no chunk is written by two ranks. OCDBT, as Orbax does it: each rank writes
        a database of its own, then rank 0 merges them into the checkpoint's database."""
        ctx = self.context(durability)
        if self.kvstore != "ocdbt":
            self._write_pieces(pieces, root, ctx, world)
            return
        line = None
        try:
            self._write_pieces(pieces, root / f"ocdbt.process_{world.rank}", ctx, world)
        except Exception as e:
            line = self.error_line(e)
        world.agree(line)  # the barrier before the merge, which every rank reaches even when its writes failed
        if world.main:
            self._merge(root, world.size, ctx)

    def _merge(self, root: Path, world_size: int, ctx: ts.Context) -> None:
        target = ts.KvStore.open(self.kvstore_spec(root, None), context=ctx).result()
        for rank in range(world_size):
            if (root / f"ocdbt.process_{rank}").is_dir():  # a rank with nothing to write made none
                source = ts.KvStore.open(self.kvstore_spec(root / f"ocdbt.process_{rank}", None), context=ctx).result()
                source.experimental_copy_range_to(target).result()

    def _write_pieces(self, pieces, root: Path, ctx: ts.Context, world) -> None:
        items = [(name, p, to_numpy(t.cpu())) for name, (p, t) in pieces.items()
                 if p.writes(world.rank) and (p.replicated or p.stop > p.start)]
        with _InFlight() as track:
            for batch in _windows(items, self.in_flight):
                opens = [track(ts.open(self.write_spec(root, name, p.shape, a.dtype, _grid(p, world.size)), context=ctx))
                         for name, p, a in batch]
                writes = [track(_region(o.result(), p).write(a)) for o, (_, p, a) in zip(opens, batch)]
                for w in writes:
                    w.result()

    def load_rank(self, root: Path, pieces, *, device: torch.device, world, saved_world_size: int) -> dict:
        """Each rank reads its rows of every global array, whatever the world size that wrote it."""
        ctx = self.context("none")
        names = list(pieces)
        out = {}
        for batch in _windows(names, self.in_flight):
            opens = [ts.open(self.read_spec(root, name), context=ctx) for name in batch]
            reads = [_region(o.result(), pieces[name]).read() for o, name in zip(opens, batch)]
            out.update((name, from_numpy(r.result()).to(device)) for name, r in zip(batch, reads))
        return out


def _grid(p, world_size: int) -> tuple[int, ...]:
    """The rows a rank holds (the first rank's, the largest), or the whole tensor when it is replicated."""
    return piece(p.shape, p.dtype, world_size, 0).local_shape


def _region(array, p):
    return array if p.replicated else array[p.start : p.stop]
