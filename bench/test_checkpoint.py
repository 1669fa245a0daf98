"""The six-way benchmarks, one parametrised test per operation; pytest runs them method by method."""
import pytest

from bench.operations import timed_load, timed_save
from runschema import LOAD_COLD, LOAD_WARM, SAVE


@pytest.mark.benchmark(group=SAVE)
def test_save(request, benchmark, method, slot, state, options, model_info, rounds):
    timed_save(request, benchmark, method, slot, state, options, model_info, rounds)


@pytest.mark.benchmark(group=LOAD_COLD)
def test_load_cold(benchmark, method, saved, state, options, model_info, rounds):
    timed_load(benchmark, method, saved, state, options, model_info, rounds, cold=True)


@pytest.mark.benchmark(group=LOAD_WARM)
def test_load_warm(benchmark, method, saved, state, options, model_info, rounds):
    timed_load(benchmark, method, saved, state, options, model_info, rounds, cold=False)
