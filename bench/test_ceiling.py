"""The hardware ceiling (group "ceiling"): the same bytes as one file, one sequential write or read."""
from functools import partial

import pytest

from bench import ceiling, disk
from bench.record import record
from bench.timing import measure
from bench.workspace import Slot
from runschema import CEILING, READ_COLD, READ_WARM, WRITE, Record


@pytest.fixture(scope="module")
def image(tensors):
    return ceiling.image(tensors)


@pytest.fixture(scope="module")
def ceiling_slot(workspace):
    slot = Slot(workspace, "ceiling")
    yield slot
    slot.discard()


def _write(slot, image, durability):
    return ceiling.write, lambda: (slot.replace() / ceiling.FILENAME, image, durability)


def _read(slot, image, durability, cold: bool):
    """The same preparation as bench/operations.py timed_load: evicted before every round, or cached once."""
    if slot.root is None:  # the write benchmark was deselected
        ceiling.write(slot.replace() / ceiling.FILENAME, image, durability)
    path, buf = slot.root / ceiling.FILENAME, ceiling.touched_buffer(image.nbytes)
    if not cold:
        disk.read_all(slot.root)

    def setup():
        if cold:
            disk.evict(slot.root)
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
def test_ceiling(benchmark, method, op, image, ceiling_slot, options, model_info, rounds):
    target, setup = OPERATIONS[op](ceiling_slot, image, options.durability)
    measured = measure(benchmark, target, setup, rounds, options.device)
    identity = Record(method=method, op=op, label=f"Disk ceiling ({op})")
    record(benchmark, identity, model_info, disk.usage(ceiling_slot.root), measured)
