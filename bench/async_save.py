"""Asynchronous saves (README: Asynchronous saves): what every format's save_async shares.

An asynchronous save has two ends. Its *stall* is the part the caller waits for: from the call until the caller may
modify its tensors again (a snapshot into host memory, opening files or arrays); then the rest (serialising, writing,
fsync) runs in the background, and `Pending.wait()` returns once the checkpoint is on stable storage (its *durable*
end), or raises the background's error. This module holds the pieces the formats share: the one background writer
thread, the staging buffers that a snapshot is copied into, the temp-name-then-rename write that leaves no half
checkpoint behind, the one-rank process group DCP's async_save needs, and the overwrite that proves a snapshot whole.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

from bench.aliases import split
from bench.disk import fsync_path
from bench.nested import flatten

WRITER_NAME = "ckpt-bench async writer"
TEMP_SUFFIX = ".partial"  # a file being written in the background; renamed into place only once complete (and synced)

_writer: ThreadPoolExecutor | None = None
_writer_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One worker thread for the whole process: background parts run one after the other, in the order started."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WRITER_NAME)
        return _writer


class Pending:
    """An asynchronous save whose stall is over: wait() returns once it is durable, or raises its background's error
    (every time it is called)."""

    def __init__(self, future: Future):
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def wait(self) -> None:
        self.future.result()

    def settle(self) -> None:
        """Wait until the background work has ended, whatever its outcome (a second Ctrl-C included): nothing may
        delete or reuse what it writes or reads before then. Its error, if any, is for wait() to report."""
        while True:
            try:
                self.future.exception()
                return
            except KeyboardInterrupt:
                continue


def background(work: Callable[[], object]) -> Pending:
    """Run `work` on the background writer thread."""
    return Pending(_executor().submit(work))


def write_atomically(path: Path, write: Callable[[Path], None], durability: str) -> None:
    """`write(temp)` writes the whole file under a temporary name beside `path`; with fsync it is synced, then renamed
    to `path` (the caller syncs the directory). A failed write removes the temporary file: `path` never exists half
    written, so a load finds no checkpoint rather than a damaged one."""
    temp = path.with_name(path.name + TEMP_SUFFIX)
    try:
        write(temp)
        if durability == "fsync":
            fsync_path(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class Staging:
    """Host memory that one method's asynchronous saves snapshot into: a buffer per tensor, allocated by the first
    snapshot of those names and shapes (pinned when the source is on CUDA, so the copy is DMA), reused (copy_) by every
    later one. A format may keep its own staging state here too (DCP's stager, whose cached buffers are the same idea).

    A snapshot must not overwrite buffers that the previous save still writes from: snapshot() first waits for the save
    that last used them (hold())."""

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}
        self._kept: dict = {}
        self._busy: Pending | None = None

    def snapshot(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A host copy of `tensors` in this staging's buffers (contiguous, whatever the source's strides)."""
        self.settle()
        out, cuda = {}, False
        for name, t in tensors.items():
            buf = self._buffers.get(name)
            if buf is None or buf.shape != t.shape or buf.dtype != t.dtype or (t.is_cuda and not buf.is_pinned()):
                buf = self._buffers[name] = torch.empty(t.shape, dtype=t.dtype, pin_memory=t.is_cuda)
            buf.copy_(t.detach(), non_blocking=t.is_cuda)
            cuda |= t.is_cuda
            out[name] = buf
        if cuda:
            torch.cuda.synchronize()  # the non-blocking copies have landed: the source may change from here on
        for name in set(self._buffers) - set(tensors):
            del self._buffers[name]
        return out

    def keep(self, key, make: Callable[[], object]):
        """The format's own staging object under `key`, made on first use; closed (close()) with this staging."""
        if key not in self._kept:
            self._kept[key] = make()
        return self._kept[key]

    def hold(self, pending: Pending) -> Pending:
        """`pending` reads these buffers until it ends."""
        self._busy = pending
        return pending

    def settle(self) -> None:
        if self._busy is not None:
            self._busy.settle()
            self._busy = None

    @property
    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self._buffers.values())

    def close(self) -> None:
        """Wait for the last save, then let every buffer go."""
        self.settle()
        for kept in self._kept.values():
            close = getattr(kept, "close", None)
            if close is not None:
                close()
        self._kept.clear()
        self._buffers.clear()


@contextmanager
def staging():
    """A Staging, closed at the end."""
    s = Staging()
    try:
        yield s
    finally:
        s.close()


@contextmanager
def process_group():
    """The process group DCP's async_save needs (a CPU backend; its process executor asks it for the rank): the one
    that exists (torchrun's), else a one-rank gloo group on an in-memory store for the duration, then destroyed."""
    import torch.distributed as dist

    if dist.is_initialized():
        yield dist.group.WORLD
        return
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()


class Overwrite:
    """Training's next step, as far as a checkpoint can tell: every bit of every tensor of `state` flipped in place, and
    put back. Flipping whole storages (each once) changes every stored byte, whatever the views and aliases, so a
    checkpoint that read any byte after the stall cannot round-trip. The pristine bytes are one copy of the state."""

    def __init__(self, state):
        tensors, _ = flatten(state)
        stored, _ = split(tensors)
        storages = {}
        for t in stored.values():
            s = t.untyped_storage()
            if s.data_ptr() and s.nbytes():
                storages.setdefault((t.device, s.data_ptr()), s)
        self._bytes = [torch.empty(0, dtype=torch.uint8, device=s.device).set_(s) for s in storages.values()]
        self._pristine = [b.clone() for b in self._bytes]
        self.flipped = False

    def apply(self) -> None:
        for b in self._bytes:
            b.bitwise_not_()
        self.flipped = True

    def undo(self) -> None:
        if self.flipped:
            for b, p in zip(self._bytes, self._pristine):
                b.copy_(p)
            self.flipped = False
