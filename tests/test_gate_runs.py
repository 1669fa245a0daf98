"""The regression gate on real tiny benchmark runs, at its defaults: a method made really ten times as slow fails and
is named; runs gated against themselves pass.

How often identical reruns fail on noise is a property of the machine, measured in the README, not a test: the
tests run on busy machines too. Each side is three runs, as in the README's CI recipe.
"""
import pytest

from plotting.__main__ import main
from plotting.gate import gate
from plotting.runs import load_each
from tests.helpers import run_bench

METHODS = "pytorch,tensorstore,ts+chunks"
ROUNDS = "--benchmark-min-rounds=10"
SIDE = 3
SLOW = "ts+chunks:save:10"  # after the real save, a sleep nine times as long: beyond any machine's noise


def _bench(storage, times: int, *args) -> list:
    for _ in range(times):
        result = run_bench("--ckpt-model", "tiny", "--ckpt-methods", METHODS, ROUNDS, *args, storage=storage)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    runs = load_each(storage)
    assert len(runs) == times
    return runs


@pytest.fixture(scope="module")
def reruns(tmp_path_factory):
    storage = tmp_path_factory.mktemp("same") / "store"
    _bench(storage, SIDE)
    return storage


@pytest.fixture(scope="module")
def slowed(tmp_path_factory):
    storage = tmp_path_factory.mktemp("slowed") / "store"
    _bench(storage, SIDE, "-p", "tests.slow_methods", "--ckpt-slow", SLOW)
    return storage


def test_runs_gated_against_themselves_pass(reruns, capsys):
    """The command line on real runs, and the rule that sets the fastest current run against the slowest baseline
    run: the other way round, the same runs would fail on their own spread."""
    assert main(["gate", str(reruns), str(reruns)]) == 0
    assert capsys.readouterr().out.startswith("ok: none of ")


def test_a_method_made_really_ten_times_as_slow_fails_the_gate_and_is_named(reruns, slowed, tmp_path, capsys):
    v = gate(load_each(reruns), load_each(slowed))
    assert ("ts+chunks", "save") in [(c.method, c.group) for c in v.regressions], v.comparisons
    baseline = load_each(reruns)[0].source  # one run against three: the command line takes a file or a directory
    assert main(["gate", baseline, str(slowed)]) == 1
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("FAIL: ") and "ts+chunks save" in summary, summary
