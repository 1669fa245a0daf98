"""The six-way benchmarks, one parametrised test per operation, whose rounds run interleaved across the methods by
default (bench.schedule; --ckpt-order blocked: method by method, each test's rounds back to back). Under torchrun
also the resharded loads: a checkpoint of N ranks loaded by rank 0 alone, and one of rank 0 alone loaded by N."""
from functools import partial

import pytest

from bench.operations import timed_load, timed_save
from bench.ranks import solo
from runschema import LOAD_COLD, LOAD_RESHARDED, LOAD_WARM, SAVE

TO_ONE, FROM_ONE = "to-1", "from-1"


@pytest.mark.benchmark(group=SAVE)
def test_save(request, benchmark, method, slot, checkpoints, state, options, model_info, world):
    timed_save(request, benchmark, method, checkpoints, state, options, model_info, world)


@pytest.mark.benchmark(group=LOAD_COLD)
def test_load_cold(request, benchmark, method, saved, checkpoints, state, options, model_info, world):
    timed_load(request, benchmark, method, checkpoints.saved, state, options, model_info, cold=True, world=world)


@pytest.mark.benchmark(group=LOAD_WARM)
def test_load_warm(request, benchmark, method, saved, checkpoints, state, options, model_info, world):
    timed_load(request, benchmark, method, checkpoints.saved, state, options, model_info, cold=False, world=world)


@pytest.mark.ranks
@pytest.mark.benchmark(group=LOAD_RESHARDED)
@pytest.mark.parametrize("reshard", [TO_ONE, FROM_ONE])
def test_load_resharded(request, benchmark, method, reshard, slot, checkpoints, state, options, model_info, world):
    """Cold, like load-cold; `to-1`: the N ranks' checkpoint, `from-1`: one that rank 0 wrote on its own."""
    by_one = reshard == FROM_ONE
    timed_load(request, benchmark, method, partial(checkpoints.saved, by_one=by_one), state, options, model_info,
               cold=True, world=world, loader=world if by_one else solo(world))
