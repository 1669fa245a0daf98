"""The method registry: every checkpoint method is one frozen entry, a name for a format's configuration."""
from __future__ import annotations

from dataclasses import dataclass

from bench.backends.base import Format
from bench.backends.dcp import Dcp
from bench.backends.safetensors_file import Safetensors
from bench.backends.tensorstore import TensorStore
from bench.backends.torch_file import TorchFile
from bench.chunks import FixedChunks, TargetChunks

T5X_TARGET_BYTES = 64 * 2**20  # T5X's _DESIRED_CHUNK_SIZE_BYTES (docs/methods.md, where it comes from)
T5X_IO_CONCURRENCY = 128  # T5X's _TS_CONTEXT file_io_concurrency limit (docs/methods.md)
WINDOW_BYTES = 128 * 2**20  # bytes in flight of the all-at-once methods (T5X's concurrent_gb): README, Memory
SMALL_CHUNK_WINDOW = 32 * 2**20  # ts+concurrency's: thousands of 8 KiB chunks per tensor keep its threads busy anyway
DCP_THREADS = 2  # fixed, not per machine, so that runs compare across machines; one per core here


@dataclass(frozen=True)
class Method:
    id: str
    label: str
    format: Format  # saves and loads it

    def config(self) -> dict:
        """The JSON-able configuration stored with every benchmark."""
        return {"id": self.id, "label": self.label, **self.format.describe()}


_CHUNK64 = FixedChunks(64)
_1MIB = TargetChunks(target_bytes=2**20)
# T5X's schedule: every tensor in flight within the window; loads copy the chunks into tensors allocated first, so that
# a load holds its result and the window's chunks, no more (README, "Loads and memory")
_ALL_AT_ONCE = {"in_flight": None, "window_bytes": WINDOW_BYTES, "io_concurrency": T5X_IO_CONCURRENCY,
                "read_into": True}

REGISTRY: dict[str, Method] = {
    m.id: m
    for m in (
        Method("pytorch", "PyTorch", TorchFile()),
        Method("tensorstore", "TensorStore", TensorStore(chunks=_CHUNK64)),
        Method("t5x", "T5X", TensorStore(
            chunks=TargetChunks(target_bytes=T5X_TARGET_BYTES), compressor="gzip", **_ALL_AT_ONCE)),
        Method("ts+concurrency", "TS + concurrency", TensorStore(
            chunks=_CHUNK64, **{**_ALL_AT_ONCE, "window_bytes": SMALL_CHUNK_WINDOW})),
        Method("ts+chunks", "TS + large chunks", TensorStore(chunks=TargetChunks(target_elements=262_144))),
        Method("ts+compression", "TS + compression", TensorStore(chunks=_CHUNK64, compressor="gzip")),
        # beyond the original guide's six: what people pick today, selected with --ckpt-methods (or 'all')
        Method("safetensors", "safetensors", Safetensors()),
        Method("pytorch-mmap", "PyTorch mmap", TorchFile(mmap=True)),
        Method("dcp", "torch DCP", Dcp(threads=DCP_THREADS)),
        Method("dcp-files", "torch DCP, a file per item", Dcp(threads=DCP_THREADS, single_file_per_rank=False)),
        # `dcp` with async_save's process executor: its synchronous save and load are dcp's (README: Asynchronous saves)
        Method("dcp-process", "torch DCP, async in a process", Dcp(threads=DCP_THREADS, async_executor="process")),
        Method("zarr3-sharded", "zarr3 sharded", TensorStore(chunks=_1MIB, driver="zarr3", **_ALL_AT_ONCE)),
        Method("ocdbt", "OCDBT", TensorStore(chunks=_1MIB, driver="zarr3", kvstore="ocdbt", **_ALL_AT_ONCE)),
        Method("ocdbt+zstd", "OCDBT + zstd", TensorStore(
            chunks=_1MIB, driver="zarr3", kvstore="ocdbt", compressor="zstd", **_ALL_AT_ONCE)),
        # the sweep's best on the 2-core machines this suite is sized for: see README, "Beyond the six"
        Method("ts+tuned", "TS tuned", TensorStore(  # memory-mapped reads: the chunks are page cache, not copies
            chunks=TargetChunks(target_bytes=4 * 2**20), **_ALL_AT_ONCE, read_mode="memmap")),
        Method("ts+zstd", "TS + zstd (T5X layout)", TensorStore(
            chunks=TargetChunks(target_bytes=T5X_TARGET_BYTES), compressor="zstd", **_ALL_AT_ONCE)),
    )
}

DEFAULT_METHODS = ("pytorch", "tensorstore", "t5x", "ts+concurrency", "ts+chunks", "ts+compression")


def select(spec: str | None) -> list[Method]:
    """Methods named by a comma-separated list of ids, or 'all' (None: the default six)."""
    if spec is None:
        return [REGISTRY[i] for i in DEFAULT_METHODS]
    if spec.strip() == "all":
        return list(REGISTRY.values())
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:  # an option given with no id is a slip rather than a choice
        raise ValueError(f"--ckpt-methods {spec!r} names no method; give comma-separated ids or 'all', or leave it out for the defaults")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"--ckpt-methods names {', '.join(repeated)} more than once; name each method once")
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown method {', '.join(map(repr, unknown))}; choose from: {', '.join(REGISTRY)} (or 'all')"
        )
    return [REGISTRY[i] for i in ids]
