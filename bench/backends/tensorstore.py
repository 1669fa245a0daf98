"""TensorStore: one array per tensor (zarr v2 or zarr3, in files or one OCDBT database), one save and one load path."""
from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from functools import partial
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


def _rolling(items: list, start, cost, limit: float):
    """Start `start(item)` for each item in order, keeping the cost of the started, unfinished ones at or under `limit`
    (a single item may exceed it on its own); yields (item, future) oldest first, and the caller waits for each
    future before the next item starts. Written here: TensorStore bounds its own concurrency, not bytes in flight."""
    pending, used = deque(), 0
    for item in items:
        needed = cost(item)
        while pending and used + needed > limit:
            done, future, spent = pending.popleft()
            yield done, future
            used -= spent
        pending.append((item, start(item), needed))
        used += needed
    while pending:
        done, future, _ = pending.popleft()
        yield done, future


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
    in_flight: int | None = 1  # tensors started and not yet done, at most; None: no count (window_bytes, or all)
    window_bytes: int | None = None  # with in_flight None: bytes of tensors started and not yet done, at most
    io_concurrency: int | None = None  # TensorStore's file_io_concurrency limit; None: its default
    read_mode: str | None = None  # TensorStore's file_io_mode for loads ("memmap", "direct"); None: its default
    read_into: bool = False  # loads copy chunks into tensors allocated first, instead of into a new array each

    name: ClassVar[str] = "tensorstore"

    def __post_init__(self):
        if self.window_bytes and self.in_flight is not None:
            raise ValueError("window_bytes bounds the all-at-once schedule only: give it with in_flight=None")

    def describe(self) -> dict:
        return {**super().describe(), "chunks": self.chunks.describe()}

    def stores(self, dtype: torch.dtype) -> bool:
        try:
            _numpy_dtype(dtype)
        except TypeError:  # numpy has no such type (the float8 kinds), and TensorStore's arrays are numpy's
            return False
        return True

    def chunk_shape(self, shape: tuple[int, ...], itemsize: int) -> list[int]:
        return self.chunks.shape_for(shape, itemsize)

    def error_line(self, exc: BaseException) -> str:
        return _APPENDED.sub("", super().error_line(exc))

    def context(self, durability: str, reading: bool = False) -> ts.Context:
        spec: dict = {"file_io_sync": durability == "fsync"}
        if self.io_concurrency:
            spec["file_io_concurrency"] = {"limit": self.io_concurrency}
        if reading and self.read_mode:
            spec["file_io_mode"] = {"mode": self.read_mode}
        return ts.Context(spec)

    def _window(self, nbytes):
        """(cost of an item, the most in flight) for _rolling: a count of tensors, or their bytes."""
        if self.in_flight is None and self.window_bytes:
            return nbytes, self.window_bytes
        return (lambda _: 1), self.in_flight or math.inf

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
        self._write(self._jobs(tensors, root), self.context(durability))

    def _jobs(self, tensors: dict[str, torch.Tensor], root: Path) -> list[tuple[dict, object, torch.Tensor]]:
        return [(self.write_spec(root, name, t.shape, _numpy_dtype(t.dtype)), _whole, t) for name, t in tensors.items()]

    def _write(self, jobs: list[tuple[dict, object, torch.Tensor]], ctx: ts.Context) -> None:
        """Each job (spec, where, tensor): open `spec`, write the tensor (copied to the host only when it starts) into
        where(array), within the window; opens are issued up front unless tensors go one at a time."""
        cost, limit = self._window(lambda i: jobs[i][2].nelement() * jobs[i][2].element_size())
        with _InFlight() as track:
            opens = [track(ts.open(spec, context=ctx)) for spec, _, _ in jobs] if self.in_flight != 1 else None

            def start(i):
                spec, where, t = jobs[i]
                store = (opens[i] if opens else track(ts.open(spec, context=ctx))).result()
                return track(where(store).write(to_numpy(t.detach().cpu())))

            for _, write in _rolling(range(len(jobs)), start, cost, limit):
                write.result()

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """TensorStore's own asynchronous writes (_write_async)."""
        return self._write_async(self._jobs(tensors, root), self.context(durability))

    def _write_async(self, jobs: list[tuple[dict, object, torch.Tensor]], ctx: ts.Context):
        """The stall opens (creates) every array and issues every write at once (`in_flight` and the window limit
        synchronous saves only: waiting for a window's commits would put the writes back into the stall), and lasts
        until every write's `copy` future is ready: TensorStore has copied the source into its own buffers, so the
        caller may modify it. The background waits for every `commit` (with file_io_sync the files are synced). A
        failed commit leaves a chunk missing, which load() refuses (fill_missing_data_reads is false)."""
        host = to_host(dict(enumerate(t for _, _, t in jobs)))
        with _InFlight() as track:  # an error in the stall returns once TensorStore's threads are done
            opens = [track(ts.open(spec, context=ctx)) for spec, _, _ in jobs]
            writes = [track(where(o.result()).write(to_numpy(host[i])))
                      for i, (o, (_, where, _)) in enumerate(zip(opens, jobs))]
            for w in writes:
                w.copy.result()

        def committed(_alive=(ctx, opens)) -> None:  # the context and arrays stay alive until the commits end
            errors = [e for w in writes if (e := w.commit.exception()) is not None]  # every write ends before this does
            if errors:
                raise errors[0]

        return background(committed)

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        return self._read({name: (self.read_spec(root, name), _whole) for name in self.array_names(root)}, device)

    def _read(self, jobs: dict[str, tuple[dict, object]], device: torch.device) -> dict[str, torch.Tensor]:
        """Each job name: (spec, where): open `spec`, read where(array) within the window, into a tensor on `device`.
        With read_into on CUDA, the host tensors are pinned and copied to the device without waiting while later
        reads go on (the caller synchronises); otherwise each new array is copied to the device as it comes."""
        ctx = self.context("none", reading=True)
        opens = {name: ts.open(spec, context=ctx) for name, (spec, _) in jobs.items()} if self.in_flight != 1 else {}
        regions = {}

        def region(name):
            if name not in regions:
                spec, where = jobs[name]
                regions[name] = where((opens.get(name) or ts.open(spec, context=ctx)).result())
            return regions[name]

        def start(name):
            source = region(name)
            if not self.read_into:
                return source.read(), None
            host = _empty(source, pinned=device.type == "cuda")
            return ts.array(to_numpy(host), copy=False, write=True, context=ctx).write(source), host

        out = {}
        cost, limit = self._window(lambda name: region(name).size * region(name).dtype.numpy_dtype.itemsize)
        for name, (future, host) in _rolling(list(jobs), start, cost, limit):
            result = future.result()
            regions.pop(name)
            out[name] = (from_numpy(result) if host is None else host).to(device, non_blocking=host is not None)
        return out

    def save_rank(self, pieces, root: Path, *, durability: str, world) -> None:
        """One global array per tensor; each rank writes its rows (rank 0 the replicated tensors), with chunks from
        the rows a rank holds, so that no chunk is written by two ranks. OCDBT, as Orbax does it: each rank writes
        a database of its own, then rank 0 merges them into the checkpoint's database."""
        ctx = self.context(durability)
        if self.kvstore != "ocdbt":
            self._write(self._piece_jobs(pieces, root, world), ctx)
            return
        line = None
        try:
            self._write(self._piece_jobs(pieces, self._rank_root(root, world), world), ctx)
        except Exception as e:
            line = self.error_line(e)
        world.agree(line)  # the barrier before the merge, which every rank reaches even when its writes failed
        if world.main:
            self._merge(root, world.size, ctx)

    def save_rank_async(self, pieces, root: Path, *, durability: str, staging, world):
        """save_rank()'s writes, issued as save_async() issues them; OCDBT's merge comes in finish_ranks()."""
        return self._write_async(self._piece_jobs(pieces, self._rank_root(root, world), world), self.context(durability))

    def finish_ranks(self, root: Path, *, durability: str, world) -> None:
        if self.kvstore == "ocdbt":
            self._merge(root, world.size, self.context(durability))

    def _rank_root(self, root: Path, world) -> Path:
        """Where a rank writes: the checkpoint's arrays, or with OCDBT a database of its own, merged by rank 0."""
        return root / f"ocdbt.process_{world.rank}" if self.kvstore == "ocdbt" else root

    def _merge(self, root: Path, world_size: int, ctx: ts.Context) -> None:
        target = ts.KvStore.open(self.kvstore_spec(root, None), context=ctx).result()
        for rank in range(world_size):
            if (root / f"ocdbt.process_{rank}").is_dir():  # a rank with nothing to write made none
                source = ts.KvStore.open(self.kvstore_spec(root / f"ocdbt.process_{rank}", None), context=ctx).result()
                source.experimental_copy_range_to(target).result()

    def _piece_jobs(self, pieces, root: Path, world) -> list[tuple[dict, object, torch.Tensor]]:
        return [(self.write_spec(root, name, p.shape, _numpy_dtype(t.dtype), _grid(p, world.size)),
                 partial(_region, p=p), t)
                for name, (p, t) in pieces.items() if p.writes(world.rank) and (p.replicated or p.stop > p.start)]

    def load_rank(self, root: Path, pieces, *, device: torch.device, world, saved_world_size: int) -> dict:
        """Each rank reads its rows of every global array, whatever the world size that wrote it."""
        return self._read({name: (self.read_spec(root, name), partial(_region, p=p)) for name, p in pieces.items()},
                          device)


def _grid(p, world_size: int) -> tuple[int, ...]:
    """The rows a rank holds (the first rank's, the largest), or the whole tensor when it is replicated."""
    return piece(p.shape, p.dtype, world_size, 0).local_shape


def _region(array, p):
    return array if p.replicated else array[p.start : p.stop]


def _whole(array):
    return array


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return to_numpy(torch.empty(0, dtype=dtype)).dtype


def _empty(source, pinned: bool) -> torch.Tensor:
    """An uninitialised host tensor for `source`'s data (pinned: for copies to CUDA without waiting)."""
    return from_numpy(np.empty(0, source.dtype.numpy_dtype)).new_empty(tuple(source.shape), pin_memory=pinned)
