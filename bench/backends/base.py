"""What every checkpoint format provides, and what they share: host copies and the fallback error line."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import torch

from bench.async_save import Staging, background
from bench.sharding import Piece, assemble, overlapping


def one_line(exc: BaseException, reason: str | None = None) -> str:
    """An exception as one readable line: its type, then `reason` or else the first line of its message."""
    if reason is None:
        reason = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {reason}"


def to_host(tensors: dict) -> dict:
    """Host tensors (the same ones on the CPU); from CUDA through pinned memory, every copy issued before one wait."""
    host = {name: _pinned_copy(t) if t.is_cuda else t.detach() for name, t in tensors.items()}
    if any(t.is_cuda for t in tensors.values()):
        torch.cuda.synchronize()
    return host


def _pinned_copy(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(t.shape, dtype=t.dtype, pin_memory=True).copy_(t.detach(), non_blocking=True)


def materialise(tensors: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Memory-mapped tensors into process memory (CPU) or onto the device: a load must really read."""
    if device.type == "cpu":
        return {name: t.clone() for name, t in tensors.items()}
    return {name: t.to(device) for name, t in tensors.items()}


class Format(ABC):
    """A checkpoint format and its settings. Subclasses are frozen dataclasses: a configuration is a value, stored
    with every benchmark. Arguments after `root` are keyword-only so that a rank's shard can be added beside them."""

    name: ClassVar[str]  # what stored configurations call this format

    @abstractmethod
    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        """Write `tensors` into the empty directory `root`; with durability "fsync", its files reach stable storage
        (the caller syncs the directories)."""

    @abstractmethod
    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        """Every tensor of the checkpoint at `root`, on `device`."""

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """Start writing `tensors` into the empty directory `root` and return once the caller may modify them again
        (the stall), with a bench.async_save.Pending whose wait() returns once the files are written (with durability
        "fsync": synced; the caller syncs the directories) or raises the background's error. A failed background
        write must leave nothing that load() accepts. `staging` (bench.async_save.Staging) holds this method's host
        buffers from one save to the next. None: this format has no asynchronous save."""
        return None

    @property
    def saves_async(self) -> bool:
        return type(self).save_async is not Format.save_async

    @property
    def saves_async_at_ranks(self) -> bool:
        """Its own save_rank_async, or the default one over save_async where save_rank is the default layout too."""
        own = type(self).save_rank_async is not Format.save_rank_async
        return own or (self.saves_async and type(self).save_rank is Format.save_rank)

    def error_line(self, exc: BaseException) -> str:
        """This library's exception as one line that says what is wrong with the checkpoint."""
        return one_line(exc)

    def describe(self) -> dict:
        """The JSON-able configuration."""
        return {"format": self.name, **asdict(self)}

    def stores(self, dtype: torch.dtype) -> bool:
        """Whether this format can hold tensors of `dtype`: checked before the run, so that a model it cannot
        store is one line, not a failed save."""
        return True

    def chunk_shape(self, shape: tuple[int, ...], itemsize: int) -> list[int]:
        """The unit a tensor is stored in; a format that does not chunk stores each tensor whole."""
        return [max(1, d) for d in shape]

    # --- at N ranks (torchrun): by default each rank writes its own files with save(), MLPerf Storage's way ---

    def save_rank(self, pieces: dict[str, tuple[Piece, torch.Tensor]], root: Path, *, durability: str, world) -> None:
        """Write this rank's pieces of the global tensors: here, with save(), its rows into root/rank-R, and (rank 0)
        the replicated tensors into root/replicated, so that no rank has to read another's file for them."""
        for directory, tensors in _rank_files(pieces, root, world):
            self.save(tensors, directory, durability=durability)

    def save_rank_async(self, pieces: dict[str, tuple[Piece, torch.Tensor]], root: Path, *, durability: str,
                        staging, world):
        """save_rank() as save_async() does save(): returns after this rank's stall, with a Pending for its files
        (bench.checkpoint.save_async makes the ranks agree). Here, save_async() of each of save_rank's directories,
        each with staging buffers of its own. None: this format has no asynchronous save at N ranks."""
        if not self.saves_async_at_ranks:  # a layout of its own (save_rank) needs a save_rank_async of its own
            return None
        parts = [self.save_async(tensors, directory, durability=durability,
                                 staging=staging.keep(directory.name, Staging))
                 for directory, tensors in _rank_files(pieces, root, world)]
        return background(lambda: [p.wait() for p in parts])  # queued after them: one writer thread, in order

    def finish_ranks(self, root: Path, *, durability: str, world) -> None:
        """Rank 0, after every rank's asynchronous part is durable: what the format writes last (nothing here)."""

    def load_rank(self, root: Path, pieces: dict[str, Piece], *, device: torch.device, world,
                  saved_world_size: int) -> dict[str, torch.Tensor]:
        """This rank's `pieces` from a checkpoint written by `saved_world_size` ranks: here, read from the files that
        hold rows of them (each rank's own when the world sizes are the same)."""
        held = {name: [(_source(root, r, theirs), theirs) for r, theirs in overlapping(p, saved_world_size)]
                for name, p in pieces.items()}
        files = {d: self.load(d, device=device) for d in sorted({d for parts in held.values() for d, _ in parts})}
        return {name: assemble(p, [(theirs, files[d][name]) for d, theirs in held[name]], device)
                for name, p in pieces.items()}


REPLICATED = "replicated"  # at N ranks: the per-rank formats' replicated tensors, written by rank 0


def _rank_files(pieces: dict[str, tuple[Piece, torch.Tensor]], root: Path, world) -> list[tuple[Path, dict]]:
    """Where the per-rank formats write what, each directory made: this rank's rows in root/rank-R, and (rank 0) the
    replicated tensors in root/replicated."""
    rows = {name: t for name, (p, t) in pieces.items() if not p.replicated}
    replicated = {name: t for name, (p, t) in pieces.items() if p.replicated}
    files = []
    for directory, tensors in ((rank_dir(root, world.rank), rows), (root / REPLICATED, replicated)):
        if tensors and (directory.name != REPLICATED or world.main):
            directory.mkdir()
            files.append((directory, tensors))
    return files


def _source(root: Path, rank: int, saved: Piece) -> Path:
    return root / REPLICATED if saved.replicated else rank_dir(root, rank)


def rank_dir(root: Path, rank: int) -> Path:
    return root / f"rank-{rank:05d}"
