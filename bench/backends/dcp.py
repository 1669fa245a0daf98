"""torch.distributed.checkpoint: FileSystemWriter / FileSystemReader; in one process without a process group, at N
ranks on the DTensor state (Shard(0) pieces, replicated small tensors), loaded by any other number of ranks."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions
from torch.distributed.checkpoint.state_dict_saver import AsyncCheckpointerType, AsyncSaveResponse
from torch.distributed.checkpoint.default_planner import DefaultSavePlanner
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor, Replicate, Shard

from bench.async_save import Pending
from bench.backends.base import Format, one_line, to_host
from bench.backends.torch_file import short_write
from bench.sharding import Piece

EXECUTORS = {"thread": AsyncCheckpointerType.THREAD, "process": AsyncCheckpointerType.PROCESS}


@dataclass(frozen=True)
class Dcp(Format):
    threads: int  # FileSystemWriter's thread_count
    single_file_per_rank: bool = True  # FileSystemWriter's: one .distcp file per rank (and thread), or one per item
    async_executor: str = "thread"  # async_save's upload: a thread of this process, or DCP's own daemon process

    name: ClassVar[str] = "dcp"

    def _writer(self, root: Path, durability: str) -> dcp.FileSystemWriter:
        return dcp.FileSystemWriter(root, sync_files=durability == "fsync", thread_count=self.threads,
                                    single_file_per_rank=self.single_file_per_rank)

    def save(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str) -> None:
        dcp.save(to_host(tensors), storage_writer=self._writer(root, durability))

    def save_async(self, tensors: dict[str, torch.Tensor], root: Path, *, durability: str, staging):
        """dcp.async_save with a DefaultStager kept in `staging`: its cached storages are allocated by the first save
        and copied into by the later ones (pinned on CUDA; in shared memory for the process executor, which hands them
        to its daemon without a copy). The stall ends when staging completes; planning, serialising and the writes
        (+ fsync, sync_files) run in the upload thread or process. The default process group is used when there is
        one (bench.async_save.process_group); the process executor needs one. DCP writes .metadata last, so a failed
        upload leaves a directory that load() refuses."""
        if self.async_executor == "process" and not dist.is_initialized():
            raise RuntimeError("DCP's process executor needs a process group (bench.async_save.process_group)")
        return self._async_save(_by_prefix(tensors), root, durability, staging,
                                cuda=any(t.is_cuda for t in tensors.values()))

    def save_rank_async(self, pieces, root: Path, *, durability: str, staging, world):
        """save_rank()'s DTensor state through async_save, on the tensors' own device (the stager makes the host
        copy); the upload's collectives run on the World's background group, beside the main thread's (the process
        executor's daemon makes a group of its own and uses this one only to agree on its address)."""
        cuda = any(t.is_cuda for _, t in pieces.values())
        mesh = _mesh("cuda" if cuda else "cpu", world.size)
        made = staging.keep(("dcp", "dtensors"), dict)  # DTensor.from_local: 10-60 ms of the stall for 75 pieces
        state = {}
        for n, (p, t) in pieces.items():
            if n not in made or made[n][0] is not t:
                made[n] = (t, _dtensor(t, p, mesh))
            state[n] = made[n][1]
        return self._async_save(state, root, durability, staging, cuda=cuda, process_group=world.background,
                                planner=DefaultSavePlanner(dedup_save_to_lowest_rank=True))

    def _async_save(self, state: dict, root: Path, durability: str, staging, cuda: bool, **kwargs):
        options = StagingOptions(use_pinned_memory=cuda, use_shared_memory=self.async_executor == "process",
                                 use_async_staging=cuda, use_non_blocking_copy=cuda)
        stager = staging.keep(("dcp", str(options)), lambda: DefaultStager(options))
        staging.settle()  # the stager's cached storages are still being written from by the previous save
        response = dcp.async_save(state, storage_writer=self._writer(root, durability), async_stager=stager,
                                  async_checkpointer_type=EXECUTORS[self.async_executor], **kwargs)
        if isinstance(response, AsyncSaveResponse):  # staging ran in the stager's own thread: wait for it
            response.staging_completion.result()
            response = response.upload_completion
        return staging.hold(Pending(response))

    def save_rank(self, pieces, root: Path, *, durability: str, world) -> None:
        """Every rank saves the DTensor state dict; DCP writes each replicated tensor once."""
        if world.group is None:  # rank 0 on its own
            dcp.save(to_host({n: t for n, (_, t) in pieces.items()}), storage_writer=self._writer(root, durability),
                     no_dist=True)
            return
        mesh = _mesh("cpu", world.size)
        state = {n: _dtensor(t.cpu(), p, mesh) for n, (p, t) in pieces.items()}
        # rank 0 writes every replicated tensor (DCP's default spreads them over the ranks with the least to write)
        dcp.save(state, storage_writer=self._writer(root, durability), process_group=world.group,
                 planner=DefaultSavePlanner(dedup_save_to_lowest_rank=True))

    def load_rank(self, root: Path, pieces: dict[str, Piece], *, device: torch.device, world,
                  saved_world_size: int) -> dict[str, torch.Tensor]:
        """In place into this rank's pieces, allocated inside the timer; DCP reads whatever saved chunks overlap."""
        local = {n: torch.empty(p.local_shape, dtype=p.dtype, device=device) for n, p in pieces.items()}
        reader = dcp.FileSystemReader(root)
        if world.group is None:
            dcp.load(local, storage_reader=reader, no_dist=True)
            return local
        mesh = _mesh(device.type, world.size)
        dcp.load({n: _dtensor(t, pieces[n], mesh) for n, t in local.items()}, storage_reader=reader,
                 process_group=world.group)
        return local

    def load(self, root: Path, *, device: torch.device) -> dict[str, torch.Tensor]:
        """DCP loads in place: the tensors are allocated from the checkpoint's metadata, inside the timer."""
        reader = dcp.FileSystemReader(root)
        meta = reader.read_metadata().state_dict_metadata
        out = {name: torch.empty(m.size, dtype=m.properties.dtype, device=device) for name, m in meta.items()}
        dcp.load(out, storage_reader=reader)
        return out

    def error_line(self, exc: BaseException) -> str:
        if isinstance(exc, dcp.CheckpointException):  # its message is its workers' traceback: the cause is last
            cause = str(exc).strip().splitlines()[-1]
            short = short_write(cause)
            return one_line(exc, f"{cause.split(':', 1)[0]}: {short}" if short else cause)
        return super().error_line(exc)


def _by_prefix(tensors: dict[str, torch.Tensor]) -> dict:
    """The same items under fewer top-level keys: {"model": {"embed_tokens.weight": t}} for "model.embed_tokens.weight".
    DCP names a nested item by its keys joined with dots, so the checkpoint is the same, but async_save wraps each
    top-level key in a logging call in the caller's thread (about 0.1 ms each: 8 ms of a 75-tensor model's stall, 40 ms
    of its Adam state's). Flat when a name is also the prefix of another."""
    heads = {name.partition(".")[0] for name in tensors if "." in name}
    if heads & set(tensors):
        return tensors
    grouped: dict = {}
    for name, t in tensors.items():
        head, dot, rest = name.partition(".")
        if dot:
            grouped.setdefault(head, {})[rest] = t
        else:
            grouped[name] = t
    return grouped


@functools.cache
def _mesh(device_type: str, world_size: int):
    return init_device_mesh(device_type, (world_size,))


def _dtensor(local: torch.Tensor, p: Piece, mesh) -> DTensor:
    """This rank's piece as its share of the global tensor (uneven last shards allowed)."""
    placement = Replicate() if p.replicated else Shard(0)
    return DTensor.from_local(local, mesh, [placement], run_check=False, shape=torch.Size(p.shape),
                              stride=torch.empty(p.shape, device="meta").stride())
