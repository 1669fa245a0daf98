"""The parameter sweep (--ckpt-sweep): save and cold load of every grid point, in groups of their own."""
import pytest

from bench.operations import timed_load, timed_save
from runschema import SWEEP_LOAD_COLD, SWEEP_SAVE

# bench/conftest.py parametrises `method` (the grid point) and one param per axis (chunk_target, in_flight, codec):
# the axes are plain strings stored in the run's params for its readers; the point itself holds their values
pytestmark = pytest.mark.sweep


@pytest.mark.benchmark(group=SWEEP_SAVE)
def test_sweep_save(request, benchmark, method, chunk_target, in_flight, codec, slot, checkpoints, state, options,
                    model_info, world):
    timed_save(request, benchmark, method, checkpoints, state, options, model_info, world)


@pytest.mark.benchmark(group=SWEEP_LOAD_COLD)
def test_sweep_load_cold(request, benchmark, method, chunk_target, in_flight, codec, saved, checkpoints, state, options,
                         model_info, world):
    timed_load(request, benchmark, method, checkpoints.saved, state, options, model_info, cold=True, world=world)
