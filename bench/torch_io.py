"""PyTorch's own format: one file, torch.save / torch.load(weights_only=True)."""
from __future__ import annotations

from pathlib import Path

import torch

from bench.disk import fsync_path

FILENAME = "model.pth"


def materialise(tensors: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Memory-mapped tensors into process memory (CPU) or onto the device: a load must really read."""
    if device.type == "cpu":
        return {name: t.clone() for name, t in tensors.items()}
    return {name: t.to(device) for name, t in tensors.items()}


def save(tensors: dict[str, torch.Tensor], root: Path, method, durability: str) -> None:
    host = {name: t.detach().cpu() for name, t in tensors.items()}
    torch.save(host, root / FILENAME)
    if durability == "fsync":
        fsync_path(root / FILENAME)


def load(root: Path, method, device: torch.device) -> dict[str, torch.Tensor]:
    if method.mmap:
        return materialise(torch.load(root / FILENAME, map_location="cpu", weights_only=True, mmap=True), device)
    return torch.load(root / FILENAME, map_location=device, weights_only=True)
