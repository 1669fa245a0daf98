"""torch.distributed.checkpoint in one process (no process group): FileSystemWriter / FileSystemReader."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp


def save(tensors: dict[str, torch.Tensor], root: Path, method, durability: str) -> None:
    host = {name: t.detach().cpu() for name, t in tensors.items()}
    writer = dcp.FileSystemWriter(root, sync_files=durability == "fsync", thread_count=method.threads)
    dcp.save(host, storage_writer=writer)


def load(root: Path, method, device: torch.device) -> dict[str, torch.Tensor]:
    """DCP loads in place: the tensors are allocated from the checkpoint's metadata, inside the timer."""
    reader = dcp.FileSystemReader(root)
    meta = reader.read_metadata().state_dict_metadata
    out = {name: torch.empty(m.size, dtype=m.properties.dtype, device=device) for name, m in meta.items()}
    dcp.load(out, storage_reader=reader)
    return out
