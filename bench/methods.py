"""The method registry: every checkpoint method is one frozen entry (SPEC §2)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.chunks import FixedChunks, TargetChunks

T5X_TARGET_BYTES = 64 * 2**20  # t5x/checkpoints.py _DESIRED_CHUNK_SIZE_BYTES
T5X_IO_CONCURRENCY = 128  # t5x/checkpoints.py _TS_CONTEXT file_io_concurrency limit
DCP_THREADS = 2  # fixed, not per machine, so that runs compare across machines; one per core here


@dataclass(frozen=True)
class Method:
    id: str
    label: str
    backend: str  # the module that saves and loads it: see bench.checkpoint.BACKENDS
    # TensorStore layout
    driver: str = "zarr"  # "zarr" (v2): chunks are files; "zarr3": one shard per tensor, chunks are inner chunks
    kvstore: str = "file"  # "file": a directory per tensor; "ocdbt": one database for all tensors
    chunks: FixedChunks | TargetChunks | None = None
    compressor: str | None = None  # "gzip" or "zstd"
    # concurrency
    in_flight: int | None = 1  # tensors issued at once and awaited together; None: all of them
    io_concurrency: int | None = None  # TensorStore's file_io_concurrency limit; None: its default
    # other backends
    mmap: bool = False  # torch: torch.load(mmap=True), then copied into memory inside the timer
    threads: int = 1  # dcp: FileSystemWriter's thread_count

    def config(self) -> dict:
        """The JSON-able configuration stored with every benchmark."""
        cfg = asdict(self)
        cfg["chunks"] = self.chunks.describe() if self.chunks else None
        return cfg


_CHUNK64 = FixedChunks(64)

REGISTRY: dict[str, Method] = {
    m.id: m
    for m in (
        Method("pytorch", "PyTorch", "torch"),
        Method("tensorstore", "TensorStore", "tensorstore", chunks=_CHUNK64),
        Method(
            "t5x", "T5X", "tensorstore", chunks=TargetChunks(target_bytes=T5X_TARGET_BYTES),
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY, compressor="gzip",
        ),
        Method(
            "ts+concurrency", "TS + concurrency", "tensorstore", chunks=_CHUNK64,
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY,
        ),
        Method("ts+chunks", "TS + large chunks", "tensorstore", chunks=TargetChunks(target_elements=262_144)),
        Method("ts+compression", "TS + compression", "tensorstore", chunks=_CHUNK64, compressor="gzip"),
        # beyond the seed: what people pick today, selected with --ckpt-methods (or 'all')
        Method("safetensors", "safetensors", "safetensors"),
        Method("pytorch-mmap", "PyTorch mmap", "torch", mmap=True),
        Method("dcp", "torch DCP", "dcp", threads=DCP_THREADS),
        Method(
            "zarr3-sharded", "zarr3 sharded", "tensorstore", driver="zarr3", chunks=TargetChunks(target_bytes=2**20),
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY,
        ),
        Method(
            "ocdbt", "OCDBT", "tensorstore", driver="zarr3", kvstore="ocdbt", chunks=TargetChunks(target_bytes=2**20),
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY,
        ),
        Method(
            "ocdbt+zstd", "OCDBT + zstd", "tensorstore", driver="zarr3", kvstore="ocdbt",
            chunks=TargetChunks(target_bytes=2**20), in_flight=None, io_concurrency=T5X_IO_CONCURRENCY, compressor="zstd",
        ),
        # the sweep's best on the 2-core machines this suite is sized for: see README, "Beyond the six"
        Method(
            "ts+tuned", "TS tuned", "tensorstore", chunks=TargetChunks(target_bytes=4 * 2**20),
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY,
        ),
        Method(
            "ts+zstd", "TS + zstd (T5X layout)", "tensorstore", chunks=TargetChunks(target_bytes=T5X_TARGET_BYTES),
            in_flight=None, io_concurrency=T5X_IO_CONCURRENCY, compressor="zstd",
        ),
    )
}

DEFAULT_METHODS = ("pytorch", "tensorstore", "t5x", "ts+concurrency", "ts+chunks", "ts+compression")
BASELINE = "tensorstore"


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
