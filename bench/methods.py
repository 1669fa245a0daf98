"""The method registry: every checkpoint method is one frozen entry (SPEC §2)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.chunks import FixedChunks, TargetChunks

T5X_TARGET_BYTES = 64 * 2**20  # t5x/checkpoints.py _DESIRED_CHUNK_SIZE_BYTES
T5X_IO_CONCURRENCY = 128  # t5x/checkpoints.py _TS_CONTEXT file_io_concurrency limit


@dataclass(frozen=True)
class Method:
    id: str
    label: str
    backend: str  # "torch" or "tensorstore": which module saves and loads it
    chunks: FixedChunks | TargetChunks | None = None
    concurrent: bool = False  # issue every tensor at once and await them together
    io_concurrency: int | None = None  # file_io_concurrency limit; None keeps TensorStore's default
    compressor: str | None = None  # a numcodecs id for zarr v2, e.g. "gzip"

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
            concurrent=True, io_concurrency=T5X_IO_CONCURRENCY, compressor="gzip",
        ),
        Method(
            "ts+concurrency", "TS + concurrency", "tensorstore", chunks=_CHUNK64,
            concurrent=True, io_concurrency=T5X_IO_CONCURRENCY,
        ),
        Method("ts+chunks", "TS + large chunks", "tensorstore", chunks=TargetChunks(target_elements=262_144)),
        Method("ts+compression", "TS + compression", "tensorstore", chunks=_CHUNK64, compressor="gzip"),
    )
}

DEFAULT_METHODS = ("pytorch", "tensorstore", "t5x", "ts+concurrency", "ts+chunks", "ts+compression")
BASELINE = "tensorstore"


def select(spec: str | None) -> list[Method]:
    """Methods named by a comma-separated list of ids (None or empty: the default six)."""
    if not spec:
        ids = list(DEFAULT_METHODS)
    elif spec.strip() == "all":
        ids = list(REGISTRY)
    else:
        ids = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown method {', '.join(map(repr, unknown))}; choose from: {', '.join(REGISTRY)} (or 'all')"
        )
    return [REGISTRY[i] for i in dict.fromkeys(ids)]
