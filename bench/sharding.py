"""How the state is split across ranks, the way FSDP2 shards parameters: each tensor along dimension 0, as DTensor's
Shard(0) on a one-dimensional mesh (torch.chunk's sizes: ceil(rows / world) per rank, the last ones smaller or empty).
A tensor with fewer rows than ranks (and a 0-dimensional one, such as Adam's step) is replicated instead: every rank
holds it whole and rank 0 alone writes it, as DCP does with replicated tensors."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def sharded(shape: tuple[int, ...], world_size: int) -> bool:
    return len(shape) >= 1 and shape[0] >= world_size


def rows(shape: tuple[int, ...], world_size: int, rank: int) -> tuple[int, int]:
    """The rows [start, stop) of a sharded tensor that `rank` holds."""
    per = -(-shape[0] // world_size)
    start = min(rank * per, shape[0])
    return start, min(start + per, shape[0])


@dataclass(frozen=True)
class Piece:
    """One rank's part of one tensor: rows [start, stop) of the global tensor, or all of it when replicated."""

    shape: tuple[int, ...]  # the global tensor's
    dtype: torch.dtype
    start: int
    stop: int
    replicated: bool

    @property
    def local_shape(self) -> tuple[int, ...]:
        return self.shape if self.replicated else (self.stop - self.start, *self.shape[1:])

    def writes(self, rank: int) -> bool:
        """Whether `rank` writes this piece: each sharded piece by its rank, a replicated tensor by rank 0."""
        return not self.replicated or rank == 0

    def of(self, tensor: torch.Tensor) -> torch.Tensor:
        """This piece of the global `tensor` (a view)."""
        return tensor if self.replicated else tensor[self.start : self.stop]

    def held(self, tensor: torch.Tensor) -> torch.Tensor:
        """This piece as a rank holds it: in storage of its own, as FSDP2's local shards are (torch.save of a view
        would write the whole tensor's storage). Made once per tensor and piece, in the warm-up round (N ranks always have one)."""
        if self.replicated or (self.start, self.stop) == (0, self.shape[0]):
            return tensor
        key = (id(tensor), self.start, self.stop)
        if key not in _HELD:
            _HELD[key] = self.of(tensor).clone()
        return _HELD[key]


_HELD: dict[tuple, torch.Tensor] = {}  # the session's state lives as long as the process: so do its pieces


def piece(shape, dtype: torch.dtype, world_size: int, rank: int) -> Piece:
    shape = tuple(shape)
    if not sharded(shape, world_size):
        return Piece(shape, dtype, 0, shape[0] if shape else 0, True)
    return Piece(shape, dtype, *rows(shape, world_size, rank), False)


def layout(tensors: dict[str, torch.Tensor], world_size: int, rank: int) -> dict[str, Piece]:
    """Each tensor's piece on `rank`, from the global tensors (or any tensors of the global shapes)."""
    return {name: piece(t.shape, t.dtype, world_size, rank) for name, t in tensors.items()}


def overlapping(p: Piece, saved_world_size: int) -> list[tuple[int, Piece]]:
    """The ranks of a checkpoint written by `saved_world_size` ranks that hold rows of `p` (all its rows when it is
    replicated), each with its piece; a tensor replicated in the checkpoint comes from rank 0."""
    if not sharded(p.shape, saved_world_size):
        return [(0, piece(p.shape, p.dtype, saved_world_size, 0))]
    found = []
    for rank in range(saved_world_size):
        theirs = piece(p.shape, p.dtype, saved_world_size, rank)
        if theirs.start < p.stop and p.start < theirs.stop:
            found.append((rank, theirs))
    return found


def assemble(p: Piece, parts: list[tuple[Piece, torch.Tensor]], device) -> torch.Tensor:
    """`p` put together from the saved pieces that overlap it (each given with its rows)."""
    if len(parts) == 1 and (parts[0][0].start, parts[0][0].stop) == (p.start, p.stop):
        whole = parts[0][1]
        return whole if whole.device == torch.device(device) else whole.to(device)
    out = torch.empty(p.local_shape, dtype=p.dtype, device=device)
    for theirs, t in parts:
        lo, hi = max(p.start, theirs.start), min(p.stop, theirs.stop)
        if theirs.replicated:
            out[lo - p.start : hi - p.start] = t[lo:hi]
        else:
            out[lo - p.start : hi - p.start] = t[lo - theirs.start : hi - theirs.start]
    return out
