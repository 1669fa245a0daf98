"""The TensorStore parameter sweep: chunk target x concurrency x codec, each point a registry-style Method."""
from __future__ import annotations

from itertools import product

from bench.backends.tensorstore import TensorStore
from bench.chunks import TargetChunks
from bench.methods import T5X_IO_CONCURRENCY, WINDOW_BYTES, Method
from runschema import SweepAxes, flight_label, size_label

CHUNK_TARGETS = [64 * 2**10, 256 * 2**10, 2**20, 4 * 2**20, 16 * 2**20, 64 * 2**20, 256 * 2**20]
IN_FLIGHT = [1, 4, 32, 128, None]  # tensors issued at once; None: all of them
CODECS = [None, "gzip", "zstd"]


def point(target: int, in_flight: int | None, codec: str | None) -> Method:
    axes = SweepAxes(target, in_flight, codec)
    return Method(
        id=axes.method_id,
        label=f"{size_label(target, ' ')} chunks, {flight_label(in_flight)} in flight, {codec or 'no codec'}",
        format=TensorStore(
            chunks=TargetChunks(target_bytes=target),
            compressor=codec,
            in_flight=in_flight,
            # sequential keeps TensorStore's default I/O limit, as the original guide's sequential methods do
            io_concurrency=None if in_flight == 1 else (in_flight or T5X_IO_CONCURRENCY),
            # every point schedules and reads as ts+tuned does: the axes are compared on the method's own paths
            window_bytes=WINDOW_BYTES if in_flight is None else None,
            read_into=True,
            read_mode="memmap",
        ),
    )


def axes() -> list[SweepAxes]:
    return [SweepAxes(t, f, c) for c, t, f in product(CODECS, CHUNK_TARGETS, IN_FLIGHT)]


def grid() -> list[Method]:
    return [point(a.target_bytes, a.in_flight, a.codec) for a in axes()]


def params() -> list[tuple[str, ...]]:
    """Every point's (method id, chunk target, in flight, codec): the plain strings its benchmarks store as params."""
    return [(a.method_id, *a.params().values()) for a in axes()]
