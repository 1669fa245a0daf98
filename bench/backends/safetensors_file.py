"""safetensors: one file, save_file / load_file (memory-mapped, so copied into memory inside the timer)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import safetensors.torch
import torch

from bench.async_save import background, write_atomically
from bench.backends.base import Format, materialise, to_host
from bench.disk import fsync_path

FILENAME = "model.safetensors"


@dataclass(frozen=True)
class Safetensors(Format):
    name: ClassVar[str] = "safetensors"

    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        # safetensors refuses non-contiguous tensors; the copy is part of what a user of it pays
        host = {name: t.contiguous() for name, t in to_host(tensors).items()}
        safetensors.torch.save_file(host, root / FILENAME)
        if durability == "fsync":
            fsync_path(root / FILENAME)

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """As TorchFile's: a snapshot into `staging`'s (contiguous) host buffers, then save_file, fsync and the rename
        into place on the background writer (a failure leaves no model.safetensors)."""
        host = staging.snapshot(tensors)
        path = root / FILENAME
        return staging.hold(background(lambda: write_atomically(
            path, lambda temp: safetensors.torch.save_file(host, temp), durability)))

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        if device.type == "cuda":  # safetensors copies each tensor from the mapped file to the device itself
            return safetensors.torch.load_file(root / FILENAME, device=str(device))
        return materialise(safetensors.torch.load_file(root / FILENAME, device="cpu"), device)
