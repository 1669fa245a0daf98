"""What every checkpoint format provides, and what they share: host copies and the fallback error line."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import torch

from bench.sharding import Piece, assemble, overlapping


def one_line(exc: BaseException, reason: str | None = None) -> str:
    """An exception as one readable line: its type, then `reason` or else the first line of its message."""
    if reason is None:
        reason = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {reason}"


def to_host(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.detach().cpu() for name, t in tensors.items()}


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
        """Write this rank's pieces of the global tensors: here, those it writes (bench.sharding), into root/rank-R."""
        mine = {name: t for name, (p, t) in pieces.items() if p.writes(world.rank)}
        directory = rank_dir(root, world.rank)
        directory.mkdir()
        self.save(mine, directory, durability=durability)

    def load_rank(self, root: Path, pieces: dict[str, Piece], *, device: torch.device, world,
                  saved_world_size: int) -> dict[str, torch.Tensor]:
        """This rank's `pieces` from a checkpoint written by `saved_world_size` ranks: here, read from the per-rank
        files that hold rows of them (every one of them when the world sizes differ)."""
        held = {name: overlapping(p, saved_world_size) for name, p in pieces.items()}
        files = {r: self.load(rank_dir(root, r), device=device) for r in sorted({r for o in held.values() for r, _ in o})}
        return {name: assemble(p, [(theirs, files[r][name]) for r, theirs in held[name]], device)
                for name, p in pieces.items()}


def rank_dir(root: Path, rank: int) -> Path:
    return root / f"rank-{rank:05d}"
