"""Runs under torchrun: the process group, this rank's place in it, and what the ranks agree on.

Plain `pytest` has no World (None everywhere): the suite then runs as one process, exactly as without this module."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from bench.backends.base import one_line

TIMEOUT = timedelta(seconds=300)  # a rank that never reaches a collective fails the others' after this
_TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets for each rank


class RankError(Exception):
    """A round that failed on some rank: one line naming the rank and its error, raised on every rank."""


def launched() -> bool:
    """Whether this process is a rank started by torchrun."""
    return all(k in os.environ for k in _TORCHRUN)


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    nnodes: int
    local_rank: int
    group: object = None  # the process group; None: a one-rank world without one (rank 0 alone)
    background: object = None  # a second gloo group for collectives beside the main thread's (DCP's async uploads);
    # made only for runs with --ckpt-async

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.group is not None:
            dist.barrier(group=self.group)

    def broadcast(self, value):
        """Rank 0's `value`, on every rank."""
        if self.group is None:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def largest(self, values: dict) -> dict:
        """Each key's largest value over the ranks (None where a rank has none)."""
        if self.group is None:
            return values
        every = [None] * self.size
        dist.all_gather_object(every, values, group=self.group)
        return {k: max((v[k] for v in every if v.get(k) is not None), default=None) for k in values}

    def agree(self, line: str | None) -> None:
        """End of a round on every rank: raise RankError on all of them if any rank's round failed (`line` is this
        rank's error, None if it succeeded). One all-reduce when all went well: it is the round's closing barrier."""
        if self.group is None:
            if line is not None:
                raise RankError(f"rank {self.rank}: {line}")
            return
        failed = torch.tensor([int(line is not None)])
        try:
            dist.all_reduce(failed, op=dist.ReduceOp.MAX, group=self.group)
            if failed.item():
                lines = [None] * self.size
                dist.all_gather_object(lines, line, group=self.group)
        except RuntimeError as e:  # gloo's and NCCL's errors (DistBackendError is one): a rank is gone
            raise RankError(f"a rank left the process group while rank {self.rank} waited for it (killed, or past "
                            f"the {int(TIMEOUT.total_seconds())} s timeout): {_first_sentence(e)}") from e
        if failed.item():
            rank, first = next((r, x) for r, x in enumerate(lines) if x is not None)
            raise RankError(f"rank {rank}: {first}")


def ranked(world, operation):
    """The operation, then (at N ranks) the ranks' agreement that it succeeded everywhere."""
    if world is None:
        return operation

    def target(*args):
        line = None
        try:
            result = operation(*args)
        except (KeyboardInterrupt, SystemExit, RankError):  # a RankError: the ranks have agreed on it already
            raise
        except BaseException as e:  # any error of any rank stops every rank's round (DCP's is a BaseException)
            result, line = None, one_line(e)
        world.agree(line)
        return result

    return target


def _first_sentence(e: BaseException) -> str:
    """gloo's message without its source location and advice: 'Read error [127.0.0.1]:20877: Connection reset by peer'."""
    text = re.sub(r"^\[[^\]]*\] ", "", str(e).strip().split("\n", 1)[0])
    return text.split(". ", 1)[0] or type(e).__name__


def start(device_type: str, background: bool = False) -> World:
    """Join the process group torchrun set up: gloo on CPU; on CUDA gloo for CPU tensors and NCCL for CUDA ones.
    `background`: also make World.background (every rank, in the same order: it is a collective)."""
    local_rank = int(os.environ["LOCAL_RANK"])
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"local rank {local_rank} has no GPU of its own ({torch.cuda.device_count()} on this host): start "
                f"at most {torch.cuda.device_count()} ranks per host with --nproc-per-node, or use --ckpt-device cpu"
            )
        torch.cuda.set_device(local_rank)
    backend = "cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    size = dist.get_world_size()
    nnodes = size // int(os.environ.get("LOCAL_WORLD_SIZE", size))
    return World(rank=dist.get_rank(), size=size, nnodes=nnodes, local_rank=local_rank, group=dist.group.WORLD,
                 background=dist.new_group(backend="gloo", timeout=TIMEOUT) if background else None)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def solo(world: World) -> World:
    """Rank 0 on its own, as a world of one (a checkpoint of another world size)."""
    return World(rank=0, size=1, nnodes=1, local_rank=world.local_rank)
