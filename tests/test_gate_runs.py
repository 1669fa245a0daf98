"""The regression gate on real tiny benchmark runs, at its defaults: identical reruns pass, a method made really
twice as slow fails and is named.

One run a side cannot show the gate this VM's run-to-run noise (single tiny benchmarks move by up to ~1.7x
between identical runs), so, as the README's CI recipe does, each side is three runs and the gate sets the
fastest current run against the slowest baseline run.
"""
import itertools

import pytest

from plotting.__main__ import main
from plotting.gate import gate
from plotting.runs import load_each
from tests.helpers import run_bench

METHODS = "pytorch,tensorstore,ts+chunks"
ROUNDS = "--benchmark-min-rounds=10"
RERUNS, SIDE = 6, 3
SLOW = "ts+chunks:save"  # twice as slow: after the real save, a sleep as long as the save took


def _bench(storage, times: int, *args) -> list:
    for _ in range(times):
        result = run_bench("--ckpt-model", "tiny", "--ckpt-methods", METHODS, ROUNDS, *args, storage=storage)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    runs = load_each(storage)
    assert len(runs) == times
    return runs


@pytest.fixture(scope="module")
def reruns(tmp_path_factory):
    return _bench(tmp_path_factory.mktemp("same") / "store", RERUNS)


@pytest.fixture(scope="module")
def slowed(tmp_path_factory):
    storage = tmp_path_factory.mktemp("slowed") / "store"
    _bench(storage, SIDE, "-p", "tests.slow_methods", "--ckpt-slow", SLOW)
    return storage


def test_identical_code_rerun_never_fails_the_gate(reruns):
    failures = []
    for chosen in itertools.combinations(range(RERUNS), SIDE):
        base = [reruns[i] for i in chosen]
        cur = [run for i, run in enumerate(reruns) if i not in chosen]
        failures += [(chosen, c) for c in gate(base, cur).regressions]
    assert not failures, failures


def test_a_method_made_really_twice_as_slow_fails_the_gate_and_is_named(reruns, slowed, tmp_path, capsys):
    v = gate(reruns[:SIDE], load_each(slowed))
    assert [(c.method, c.group) for c in v.regressions] == [("ts+chunks", "save")], v.comparisons
    baseline = reruns[0].source  # one run against three: the command line takes a file or a directory
    assert main(["gate", baseline, str(slowed)]) == 1
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("FAIL: 1 of ") and "regressed: ts+chunks save (" in summary, summary
