"""Save, load and verify a checkpoint with any registered method."""
from __future__ import annotations

from pathlib import Path

import torch

from bench.disk import fsync_dirs

DURABILITY = ("fsync", "none")


def save(method, tensors: dict[str, torch.Tensor], root: Path, durability: str = "fsync") -> None:
    """Write `tensors` into the empty directory `root`; with fsync, return once it is on stable storage."""
    method.format.save(tensors, root, durability=durability)
    if durability == "fsync":
        fsync_dirs(root)


class CheckpointError(Exception):
    """A checkpoint that does not load: one line naming the method, the checkpoint and the reason."""


def load(method, root: Path, device: torch.device) -> dict[str, torch.Tensor]:
    try:
        tensors = method.format.load(root, device=device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # whatever the format's library raises; DCP's CheckpointException is a BaseException
        line = method.format.error_line(e)
        raise CheckpointError(f"{method.id}: cannot load the checkpoint at {root} ({line})") from e
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return tensors


_SAME_WIDTH_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bits (NaN payloads and signed zeros included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.is_floating_point:
        as_int = _SAME_WIDTH_INT[a.element_size()]
        return torch.equal(a.view(as_int), b.view(as_int))
    return torch.equal(a, b)


def mismatches(expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor]) -> list[str]:
    """Names that did not round-trip: missing, extra, or different in dtype, shape or bits."""
    bad = sorted(set(expected) ^ set(actual))
    bad += [n for n in expected if n in actual and not bitwise_equal(expected[n], actual[n].to(expected[n].device))]
    return bad
