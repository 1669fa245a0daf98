"""safetensors: one file, save_file / load_file (memory-mapped, so copied into memory inside the timer)."""
from __future__ import annotations

from pathlib import Path

import safetensors.torch
import torch

from bench.disk import fsync_path
from bench.torch_io import materialise

FILENAME = "model.safetensors"


def save(tensors: dict[str, torch.Tensor], root: Path, method, durability: str) -> None:
    # safetensors refuses non-contiguous tensors; the copy is part of what a user of it pays
    host = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    safetensors.torch.save_file(host, root / FILENAME)
    if durability == "fsync":
        fsync_path(root / FILENAME)


def load(root: Path, method, device: torch.device) -> dict[str, torch.Tensor]:
    return materialise(safetensors.torch.load_file(root / FILENAME, device="cpu"), device)
