"""The TensorStore parameter sweep: chunk target x concurrency x codec, each point a registry-style Method."""
from __future__ import annotations

from itertools import product

from bench.chunks import TargetChunks
from bench.methods import T5X_IO_CONCURRENCY, Method

CHUNK_TARGETS = [64 * 2**10, 256 * 2**10, 2**20, 4 * 2**20, 16 * 2**20, 64 * 2**20, 256 * 2**20]
IN_FLIGHT = [1, 4, 32, 128, None]  # tensors issued at once; None: all of them
CODECS = [None, "gzip", "zstd"]


def size_label(n: int, sep: str = "") -> str:
    return f"{n >> 20}{sep}MiB" if n >= 2**20 else f"{n >> 10}{sep}KiB"


def flight_label(in_flight: int | None) -> str:
    return "seq" if in_flight == 1 else "all" if in_flight is None else str(in_flight)


def point(target: int, in_flight: int | None, codec: str | None) -> Method:
    flight = flight_label(in_flight)
    return Method(
        id=f"{size_label(target)}-{flight}-{codec or 'raw'}",
        label=f"{size_label(target, ' ')} chunks, {flight} in flight, {codec or 'no codec'}",
        backend="tensorstore",
        chunks=TargetChunks(target_bytes=target),
        in_flight=in_flight,
        # sequential keeps TensorStore's default I/O limit, as the seed's sequential methods do
        io_concurrency=None if in_flight == 1 else (in_flight or T5X_IO_CONCURRENCY),
        compressor=codec,
    )


def grid() -> list[Method]:
    return [point(t, f, c) for c, t, f in product(CODECS, CHUNK_TARGETS, IN_FLIGHT)]
