"""The hardware ceiling (group "ceiling"): the same bytes as one file, one sequential write or read, and as one file
per core written or read at once (params.streams); at N ranks each
rank writes and reads its share in a file of its own, all at once, timed like the methods (bench/operations.py)."""
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from bench import ceiling, disk
from bench.operations import ready
from bench.ranks import launched, ranked
from bench.record import record
from bench.handover import measure
from bench.workspace import Slot
from runschema import CEILING, READ_COLD, READ_WARM, WRITE, Record


@pytest.fixture(scope="module")
def image(tensors, world):
    return ceiling.share(ceiling.image(tensors), world)


@pytest.fixture(scope="module")
def ceiling_slots(workspace):
    """A slot per stream count, its reads reading what its write wrote; one on disk at a time (the stream counts run
    one after the other), as the free-space check counts."""
    slots = {}

    def slot(streams: str) -> Slot:
        for other, s in slots.items():
            if other != streams:
                s.discard()
        return slots.setdefault(streams, Slot(workspace, f"ceiling-{streams}"))

    yield slot
    for s in slots.values():
        s.discard()


def _write(slot, parts, durability, world, streams, pool):
    def setup():
        root = ready(slot.replace(), world)  # rank 0 has made the directory; the clock starts together
        return [root / n for n in ceiling.filenames(world, streams)], parts, durability

    if streams == 1:
        return lambda paths, data, durability: ceiling.write(paths[0], data[0], durability), setup
    return partial(ceiling.write_streams, pool=pool), setup


def _read(slot, parts, durability, world, streams, pool, cold: bool):
    """The same preparation as bench/operations.py timed_load: evicted before every round, or cached once."""
    if slot.root is None:  # the write benchmark was deselected
        root = ready(slot.replace(), world)
        for name, data in zip(ceiling.filenames(world, streams), parts):
            ceiling.write(root / name, data, durability)
    paths = [slot.root / n for n in ceiling.filenames(world, streams)]
    bufs = [ceiling.touched_buffer(p.nbytes) for p in parts]
    if not cold:
        disk.read_all(slot.root)

    def setup():
        if cold:
            disk.evict(slot.root)
        return ready(paths, world), bufs

    if streams == 1:
        return lambda paths, bufs: ceiling.read_into(paths[0], bufs[0]), setup
    return partial(ceiling.read_streams, pool=pool), setup


OPERATIONS = {
    WRITE: _write,
    READ_COLD: partial(_read, cold=True),
    READ_WARM: partial(_read, cold=False),
}
CORES = len(os.sched_getaffinity(0))
# one stream, and as many as there are cores (at N ranks the ranks are the parallel streams)
STREAMS = ["1"] if CORES == 1 or launched() else ["1", str(CORES)]


@pytest.mark.benchmark(group=CEILING)
@pytest.mark.parametrize("op", list(OPERATIONS))
@pytest.mark.parametrize("streams", STREAMS)  # the outer loop: every operation of one stream count, then the next
@pytest.mark.parametrize("method", [CEILING])  # every stored benchmark has params.method
def test_ceiling(benchmark, method, op, streams, image, ceiling_slots, options, model_info, rounds, world):
    n, slot = int(streams), ceiling_slots(streams)
    with ThreadPoolExecutor(n) as pool:  # started before the clock
        target, setup = OPERATIONS[op](slot, ceiling.cut(image, n), options.durability, world, n, pool)
        measured = measure(benchmark, ranked(world, target), setup, rounds, options.device, options.warmup,
                           disk_path=options.ckpt_dir)
    label = f"Disk ceiling ({op})" if n == 1 else f"Disk ceiling ({op}, {n} streams)"
    identity = Record(method=method, op=op, streams=n, label=label)
    ranks = {} if world is None else {"world_size": world.size, "nnodes": world.nnodes,
                                      "rank_bytes": ceiling.shares(model_info["logical_bytes"], world.size)}
    record(benchmark, identity, model_info, disk.usage(slot.root), measured, world, ranks)
