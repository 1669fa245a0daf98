"""torch.distributed.checkpoint in one process (no process group): FileSystemWriter / FileSystemReader."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.distributed.checkpoint as dcp

from bench.backends.base import Format, one_line, to_host


@dataclass(frozen=True)
class Dcp(Format):
    threads: int  # FileSystemWriter's thread_count

    name: ClassVar[str] = "dcp"

    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        writer = dcp.FileSystemWriter(root, sync_files=durability == "fsync", thread_count=self.threads)
        dcp.save(to_host(tensors), storage_writer=writer)

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        """DCP loads in place: the tensors are allocated from the checkpoint's metadata, inside the timer."""
        reader = dcp.FileSystemReader(root)
        meta = reader.read_metadata().state_dict_metadata
        out = {name: torch.empty(m.size, dtype=m.properties.dtype, device=device) for name, m in meta.items()}
        dcp.load(out, storage_reader=reader)
        return out

    def error_line(self, exc: BaseException) -> str:
        if isinstance(exc, dcp.CheckpointException):  # its message is its workers' traceback: the cause is last
            return one_line(exc, str(exc).strip().splitlines()[-1])
        return super().error_line(exc)
