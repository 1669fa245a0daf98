"""Chunk-shape rules for the TensorStore methods."""
from __future__ import annotations

from dataclasses import dataclass
from math import prod


def fixed_chunk_shape(shape: tuple[int, ...], size: int) -> list[int]:
    """`size` along every dimension, capped by the dimension (at least 1, for empty dimensions)."""
    return [max(1, min(size, dim)) for dim in shape]


def _next_smaller_divisor(dim: int, current: int) -> int:
    return next(d for d in range(current - 1, 0, -1) if dim % d == 0)


def t5x_chunk_shape(shape: tuple[int, ...], target_elements: int) -> list[int]:
    """T5X's rule: while over target, cut the largest chunk dimension to its next smaller divisor."""
    if target_elements < 1:
        raise ValueError(f"target_elements must be >= 1, got {target_elements}")
    chunk = [max(1, dim) for dim in shape]
    while prod(chunk) > target_elements:
        largest = max(range(len(chunk)), key=lambda i: (chunk[i], -i))
        chunk[largest] = _next_smaller_divisor(max(1, shape[largest]), chunk[largest])
    return chunk


@dataclass(frozen=True)
class FixedChunks:
    """The same edge length along every dimension."""

    size: int = 64

    def shape_for(self, shape: tuple[int, ...], itemsize: int) -> list[int]:
        return fixed_chunk_shape(shape, self.size)

    def describe(self) -> dict:
        return {"rule": "fixed", "size": self.size}


@dataclass(frozen=True)
class TargetChunks:
    """T5X's divisor rule towards a target given in bytes or in elements."""

    target_bytes: int | None = None
    target_elements: int | None = None

    def elements(self, itemsize: int) -> int:
        return self.target_elements if self.target_elements else self.target_bytes // itemsize

    def shape_for(self, shape: tuple[int, ...], itemsize: int) -> list[int]:
        return t5x_chunk_shape(shape, self.elements(itemsize))

    def describe(self) -> dict:
        target = {"target_bytes": self.target_bytes} if self.target_bytes else {"target_elements": self.target_elements}
        return {"rule": "t5x", **target}
