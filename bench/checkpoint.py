"""Save, load and verify a checkpoint with any registered method."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from bench import dcp_io, safetensors_io, tensorstore_io, torch_io
from bench.disk import fsync_dirs

BACKENDS = {"torch": torch_io, "tensorstore": tensorstore_io, "safetensors": safetensors_io, "dcp": dcp_io}
DURABILITY = ("fsync", "none")


def save(method, tensors: dict[str, torch.Tensor], root: Path, durability: str = "fsync") -> None:
    """Write `tensors` into the empty directory `root`; with fsync, return once it is on stable storage."""
    BACKENDS[method.backend].save(tensors, root, method, durability)
    if durability == "fsync":
        fsync_dirs(root)


class CheckpointError(Exception):
    """A checkpoint that does not load: one line naming the method, the checkpoint and the reason."""


_TENSORSTORE_SPEC = re.compile(r" \[(tensorstore_spec|source locations)=.*$")  # TensorStore appends its whole spec
_WEIGHTS_ONLY = re.compile(r"WeightsUnpickler error: (.*?)(\. Please|$)", re.M)  # torch's reason comes last


def one_line(e: BaseException) -> str:
    """An exception as one readable line: its type and the line of its message that says what went wrong."""
    text = str(e).strip()
    if refused := _WEIGHTS_ONLY.search(text):
        line = f"torch.load(weights_only=True) refused it: {refused[1]}"
    elif "Traceback (most recent call last)" in text:  # DCP's message is its workers' traceback: the cause is last
        line = text.splitlines()[-1]
    else:
        line = text.split("\n", 1)[0]
    return f"{type(e).__name__}: {_TENSORSTORE_SPEC.sub('', line)}"


def load(method, root: Path, device: torch.device) -> dict[str, torch.Tensor]:
    try:
        tensors = BACKENDS[method.backend].load(root, method, device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # whatever the backend's library raises; DCP's CheckpointException is a BaseException
        raise CheckpointError(f"{method.id}: cannot load the checkpoint at {root} ({one_line(e)})") from e
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
