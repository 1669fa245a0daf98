"""PyTorch's own format: one file, torch.save / torch.load(weights_only=True)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from bench.async_save import background, write_atomically
from bench.backends.base import Format, materialise, one_line, to_host
from bench.disk import fsync_path

FILENAME = "model.pth"
_WEIGHTS_ONLY = re.compile(r"WeightsUnpickler error: (.*?)(\. Please|$)", re.M)  # torch's reason comes mid-paragraph


_SHORT_WRITE = re.compile(r"\[enforce fail at inline_container\.cc:\d+\] \. (unexpected pos \d+ vs \d+)")


def short_write(text: str) -> str | None:
    """The reason behind PyTorch's zip writer's check on a write that came up short (torch.save, DCP's files), or None
    for another message."""
    found = _SHORT_WRITE.search(text)
    return f"PyTorch's zip writer could not write the whole file ({found[1]}), as when the disk is full" if found else None


def weights_only_refusal(exc: BaseException) -> str | None:
    """Why torch.load(weights_only=True) refused a file (its message is a paragraph), or None for another error."""
    refused = _WEIGHTS_ONLY.search(str(exc))
    return refused[1] if refused else None


@dataclass(frozen=True)
class TorchFile(Format):
    mmap: bool = False  # torch.load(mmap=True), then copied into memory inside the timer

    name: ClassVar[str] = "torch"

    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        torch.save(to_host(tensors), root / FILENAME)
        if durability == "fsync":
            fsync_path(root / FILENAME)

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """CheckFreq's snapshot-then-persist: the stall is the copy into `staging`'s host buffers; torch.save, fsync
        and the rename into place run on the background writer (a failure leaves no model.pth)."""
        host = staging.snapshot(tensors)
        path = root / FILENAME
        return staging.hold(background(lambda: write_atomically(path, lambda temp: self.serialise(host, temp),
                                                                durability)))

    def serialise(self, host: dict[str, torch.Tensor], path: Path) -> None:
        """The asynchronous save's write, in the background."""
        torch.save(host, path)

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        if self.mmap:
            return materialise(torch.load(root / FILENAME, map_location="cpu", weights_only=True, mmap=True), device)
        return torch.load(root / FILENAME, map_location=device, weights_only=True)

    def error_line(self, exc: BaseException) -> str:
        if refused := weights_only_refusal(exc):
            return one_line(exc, f"torch.load(weights_only=True) refused it: {refused}")
        if short := short_write(str(exc)):
            return one_line(exc, short)
        return super().error_line(exc)
