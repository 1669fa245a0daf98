"""The six-way benchmarks, one parametrised test per operation; pytest runs them method by method. Under torchrun
also the resharded loads: a checkpoint of N ranks loaded by rank 0 alone, and one of rank 0 alone loaded by N."""
import pytest

from bench.operations import timed_load, timed_save
from bench.ranks import solo
from runschema import LOAD_COLD, LOAD_RESHARDED, LOAD_WARM, SAVE

TO_ONE, FROM_ONE = "to-1", "from-1"


@pytest.mark.benchmark(group=SAVE)
def test_save(request, benchmark, method, slot, state, options, model_info, rounds, world):
    timed_save(request, benchmark, method, slot, state, options, model_info, rounds, world)


@pytest.mark.benchmark(group=LOAD_COLD)
def test_load_cold(benchmark, method, saved, state, options, model_info, rounds, world):
    timed_load(benchmark, method, saved, state, options, model_info, rounds, cold=True, world=world)


@pytest.mark.benchmark(group=LOAD_WARM)
def test_load_warm(benchmark, method, saved, state, options, model_info, rounds, world):
    timed_load(benchmark, method, saved, state, options, model_info, rounds, cold=False, world=world)


@pytest.mark.ranks
@pytest.mark.benchmark(group=LOAD_RESHARDED)
@pytest.mark.parametrize("reshard", [TO_ONE, FROM_ONE])
def test_load_resharded(request, benchmark, method, reshard, state, options, model_info, rounds, world):
    """Cold, like load-cold; `to-1`: the N ranks' checkpoint, `from-1`: one that rank 0 wrote on its own."""
    if reshard == TO_ONE:
        saved, loader = request.getfixturevalue("saved"), solo(world)
    else:
        saved, loader = request.getfixturevalue("saved_by_one"), world
    timed_load(benchmark, method, saved, state, options, model_info, rounds, cold=True, world=world, loader=loader)
