"""The hardware ceiling: the model's bytes as one contiguous buffer, one sequential write or read; and the same
bytes cut into one share per core, written or read at once by as many threads (fio's numjobs), since one stream is
not always the disk's limit. At N ranks each rank does this with its share of the bytes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from bench.aliases import split
from bench.disk import fsync_dirs



def image(tensors: dict[str, torch.Tensor]) -> np.ndarray:
    """Every tensor's bytes back to back on the host, a shared one once: the checkpoints' logical bytes."""
    stored, _ = split(tensors)
    parts = [t.detach().cpu().reshape(-1).view(torch.uint8) for t in stored.values()]
    return torch.cat(parts).numpy() if parts else np.empty(0, np.uint8)


def cut(data: np.ndarray, n: int) -> list[np.ndarray]:
    """`n` contiguous shares of the bytes (views), as shares() sizes them."""
    per = -(-len(data) // n)
    return [data[i * per : (i + 1) * per] for i in range(n)]


def share(data: np.ndarray, world) -> np.ndarray:
    """This rank's contiguous share of the bytes (all of them in one process)."""
    return data if world is None else cut(data, world.size)[world.rank].copy()  # the whole image can go


def shares(total: int, world_size: int) -> dict[str, int]:
    """The bytes of each rank's share, as share() cuts them."""
    per = -(-total // world_size)
    return {str(r): max(0, min(per, total - r * per)) for r in range(world_size)}


def filenames(world, streams: int) -> list[str]:
    """This rank's files: one per stream (one stream: the single file of the sequential ceiling)."""
    stem = "ceiling" if world is None else f"ceiling-rank-{world.rank:05d}"
    return [f"{stem}.bin"] if streams == 1 else [f"{stem}-stream-{i}.bin" for i in range(streams)]


def write_streams(paths: list[Path], parts: list[np.ndarray], durability: str, pool) -> None:
    """Every share written at once, each by a thread of `pool` (os.write and fsync release the GIL)."""
    for done in [pool.submit(write, p, d, durability) for p, d in zip(paths, parts)]:
        done.result()


def read_streams(paths: list[Path], bufs: list[np.ndarray], pool) -> int:
    return sum(f.result() for f in [pool.submit(read_into, p, b) for p, b in zip(paths, bufs)])


def touched_buffer(n: int) -> np.ndarray:
    """A buffer whose pages are already mapped, so that a read into it times the disk, not page faults."""
    buf = np.empty(n, np.uint8)
    buf.fill(0)
    return buf


def write(path: Path, data: np.ndarray, durability: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view):]
        if durability == "fsync":
            os.fsync(fd)
    finally:
        os.close(fd)
    if durability == "fsync":
        fsync_dirs(path.parent)


def read_into(path: Path, buf: np.ndarray) -> int:
    with open(path, "rb", buffering=0) as f:
        view, done = memoryview(buf).cast("B"), 0
        while done < len(view):
            n = f.readinto(view[done:])
            if not n:
                break
            done += n
    return done
