"""The parameter sweep (--ckpt-sweep): save and cold load of every grid point, in groups of their own."""
import pytest

from bench.operations import timed_load, timed_save

pytestmark = pytest.mark.sweep  # bench/conftest.py parametrises `method` with the grid here


@pytest.mark.benchmark(group="sweep-save")
def test_sweep_save(request, benchmark, method, slot, tensors, options, model_info, rounds):
    timed_save(request, benchmark, method, slot, tensors, options, model_info, rounds)


@pytest.mark.benchmark(group="sweep-load-cold")
def test_sweep_load_cold(benchmark, method, saved, tensors, options, model_info, rounds):
    timed_load(benchmark, method, saved, tensors, options, model_info, rounds, cold=True)
