"""The six-way benchmarks of SPEC §3, one parametrised test per operation; pytest runs them method by method."""
import pytest

from bench.operations import timed_load, timed_save


@pytest.mark.benchmark(group="save")
def test_save(request, benchmark, method, slot, tensors, options, model_info, rounds):
    timed_save(request, benchmark, method, slot, tensors, options, model_info, rounds)


@pytest.mark.benchmark(group="load-cold")
def test_load_cold(benchmark, method, saved, tensors, options, model_info, rounds):
    timed_load(benchmark, method, saved, tensors, options, model_info, rounds, cold=True)


@pytest.mark.benchmark(group="load-warm")
def test_load_warm(benchmark, method, saved, tensors, options, model_info, rounds):
    timed_load(benchmark, method, saved, tensors, options, model_info, rounds, cold=False)
