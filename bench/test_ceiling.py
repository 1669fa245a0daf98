"""The hardware ceiling (group "ceiling"): the same bytes as one file, one sequential write or read; at N ranks each
rank writes and reads its share in a file of its own, all at once, timed like the methods (bench/operations.py)."""
from functools import partial

import pytest

from bench import ceiling, disk
from bench.operations import ranked
from bench.record import record
from bench.timing import measure
from bench.workspace import Slot
from runschema import CEILING, READ_COLD, READ_WARM, WRITE, Record


@pytest.fixture(scope="module")
def image(tensors, world):
    return ceiling.share(ceiling.image(tensors), world)


@pytest.fixture(scope="module")
def ceiling_slot(workspace):
    slot = Slot(workspace, "ceiling")
    yield slot
    slot.discard()


def _write(slot, image, durability, world):
    def setup():
        root = slot.replace()
        if world is not None:
            world.barrier()  # rank 0 has made the directory; the clock starts together
        return root / ceiling.filename(world), image, durability

    return ceiling.write, setup


def _read(slot, image, durability, world, cold: bool):
    """The same preparation as bench/operations.py timed_load: evicted before every round, or cached once."""
    if slot.root is None:  # the write benchmark was deselected
        root = slot.replace()
        if world is not None:
            world.barrier()
        ceiling.write(root / ceiling.filename(world), image, durability)
    path, buf = slot.root / ceiling.filename(world), ceiling.touched_buffer(image.nbytes)
    if not cold:
        disk.read_all(slot.root)

    def setup():
        if cold:
            disk.evict(slot.root)
        if world is not None:
            world.barrier()
        return path, buf

    return ceiling.read_into, setup


OPERATIONS = {
    WRITE: _write,
    READ_COLD: partial(_read, cold=True),
    READ_WARM: partial(_read, cold=False),
}


@pytest.mark.benchmark(group=CEILING)
@pytest.mark.parametrize("op", list(OPERATIONS))
@pytest.mark.parametrize("method", [CEILING])  # every stored benchmark has params.method
def test_ceiling(benchmark, method, op, image, ceiling_slot, options, model_info, rounds, world):
    target, setup = OPERATIONS[op](ceiling_slot, image, options.durability, world)
    measured = measure(benchmark, ranked(world, target), setup, rounds, options.device)
    identity = Record(method=method, op=op, label=f"Disk ceiling ({op})")
    ranks = {} if world is None else {"world_size": world.size, "nnodes": world.nnodes,
                                      "rank_bytes": ceiling.shares(model_info["logical_bytes"], world.size)}
    record(benchmark, identity, model_info, disk.usage(ceiling_slot.root), measured, world, ranks)
