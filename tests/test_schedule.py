"""The order of the rounds (bench.schedule) over fake methods: which round runs when, where each setup falls, what a
failure does, and how the stored positions pair (runschema.paired)."""
import time
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import torch

from bench.methods import REGISTRY
from bench.schedule import Plan, Schedule
from bench.timing import Clock, Rounds
from runschema import BLOCKED, INTERLEAVED, LOAD_COLD, SAVE, paired

METHODS = ("pytorch", "safetensors", "tensorstore")


@dataclass
class Marker:
    kwargs: dict


@dataclass
class CallSpec:
    params: dict


@dataclass
class Item:
    """A collected benchmark, as far as the schedule reads one."""

    originalname: str
    group: str
    params: dict
    path: Path = Path("bench/test_checkpoint.py")
    callspec: CallSpec = field(init=False)
    nodeid: str = field(init=False)

    def __post_init__(self):
        self.callspec = CallSpec(self.params)
        self.nodeid = f"{self.path}::{self.originalname}[{self.params['method']}]"

    def get_closest_marker(self, name):
        return Marker({"group": self.group}) if name == "benchmark" else None


def items(names=("test_save", "test_load_cold"), methods=METHODS) -> list[Item]:
    """In pytest's order for a module-scoped `method`: every operation of one method, then the next method."""
    groups = {"test_save": SAVE, "test_load_cold": LOAD_COLD, "test_ceiling": "ceiling"}
    return [Item(n, groups[n], {"method": m}) for m in methods for n in names]


class Log:
    """Plans whose setups and targets write what they do, in order, into one list."""

    def __init__(self, warmup=False, fails=None):
        self.events, self.prepared, self.failed, self.warmup, self.fails = [], [], [], warmup, fails or {}
        self.ticks = iter(range(10**6))

    def plan(self, method) -> Plan:
        self.prepared.append(method)
        name = method.id

        def setup():
            self.events.append(("setup", name))
            return ()

        def target():
            self.events.append(("round", name))
            if self.fails.get(name) == sum(e == ("round", name) for e in self.events):
                raise OSError(28, f"{name} ran out of disk")

        rounds = Rounds(target, setup, torch.device("cpu"), Clock(lambda: float(next(self.ticks))), warmup=self.warmup,
                        disk_path=None)
        return Plan(rounds, check=lambda measured: self.events.append(("check", name)),
                    failed=lambda: self.failed.append(name))


def run_all(schedule: Schedule, log: Log, collected: list[Item]) -> dict:
    """Every item's measured rounds, in the order pytest runs them once the schedule has reordered them."""
    out = {}
    for item in collected:
        method = REGISTRY[item.params["method"]]
        try:
            out[(item.originalname, method.id)] = schedule.measured(item, method, log.plan)
        except OSError as e:
            out[(item.originalname, method.id)] = e
    return out


def rounds_of(events, kind="round"):
    return [name for what, name in events if what == kind]


def test_interleaved_rounds_run_cycle_by_cycle_in_an_order_that_rotates():
    collected = items()
    schedule = Schedule.of(collected, INTERLEAVED, rounds=3)
    schedule.reorder(collected)
    assert [(i.originalname, i.params["method"]) for i in collected] == [
        ("test_save", m) for m in METHODS] + [("test_load_cold", m) for m in METHODS]
    log = Log()
    measured = run_all(schedule, log, collected)
    save_events = log.events[: len(log.events) // 2]
    assert rounds_of(save_events) == ["pytorch", "safetensors", "tensorstore",
                                      "safetensors", "tensorstore", "pytorch",
                                      "tensorstore", "pytorch", "safetensors"]
    # every round's setup comes right before it; a save's check (no result held) comes after the last cycle
    assert save_events[:18:2] == [("setup", n) for n in rounds_of(save_events)]
    assert save_events[18:] == [("check", n) for n in METHODS]
    for a in METHODS:
        assert measured[("test_save", a)].order == INTERLEAVED
        for b in METHODS:
            if a != b:
                assert paired(measured[("test_save", a)].rounds_at, measured[("test_save", b)].rounds_at)
    # readings: each round's own start and stop
    assert all(stop - start == 1 for start, stop in measured[("test_save", "pytorch")].readings)
    # the progress lines name where each test's rounds ran
    assert schedule.ran_in == {f"bench/test_checkpoint.py::{n}[{m}]": f"bench/test_checkpoint.py::{n}[pytorch]"
                               for n in ("test_save", "test_load_cold") for m in METHODS[1:]}


def test_blocked_rounds_run_back_to_back_when_their_test_runs_and_do_not_pair():
    collected = items()
    schedule = Schedule.of(collected, BLOCKED, rounds=3)
    before = list(collected)
    schedule.reorder(collected)
    assert collected == before  # pytest's own order
    log = Log(warmup=True)
    measured = run_all(schedule, log, collected)
    assert rounds_of(log.events) == [m for m in METHODS for _ in range(2) for _ in range(4)]  # warm-up + 3, twice
    a, b = measured[("test_save", "pytorch")], measured[("test_save", "safetensors")]
    assert a.order == BLOCKED and a.rounds_at == sorted(a.rounds_at) and max(a.rounds_at) < min(b.rounds_at)
    assert not paired(a.rounds_at, b.rounds_at)


def test_warm_up_rounds_come_before_the_first_cycle():
    collected = items(("test_save",))
    schedule = Schedule.of(collected, INTERLEAVED, rounds=2)
    log = Log(warmup=True)
    run_all(schedule, log, collected)
    assert rounds_of(log.events) == list(METHODS) + list(METHODS) + ["safetensors", "tensorstore", "pytorch"]


def test_a_method_that_fails_drops_out_its_own_test_raises_and_the_others_run_every_round():
    collected = items(("test_save",))
    schedule = Schedule.of(collected, INTERLEAVED, rounds=3)
    lines = []
    schedule.progress = lines.append
    log = Log(fails={"safetensors": 2})
    measured = run_all(schedule, log, collected)
    assert isinstance(measured[("test_save", "safetensors")], OSError)
    assert "safetensors ran out of disk" in str(measured[("test_save", "safetensors")])
    assert log.failed == ["safetensors"] and "safetensors" not in rounds_of(log.events, "check")
    assert rounds_of(log.events).count("safetensors") == 2
    for name in ("pytorch", "tensorstore"):
        assert len(measured[("test_save", name)].readings) == 3
    assert len(lines) == 3 and "safetensors failed (OSError)" in lines[1] and "pytorch " in lines[1]


def test_a_cohort_of_one_method_runs_blocked():
    collected = items(("test_save",), methods=("pytorch",))
    schedule = Schedule.of(collected, INTERLEAVED, rounds=2)
    measured = run_all(schedule, Log(), collected)
    assert schedule.cohorts == {} and measured[("test_save", "pytorch")].order == BLOCKED


def test_items_outside_the_interleaved_groups_run_alone_and_keep_their_place():
    collected = items(("test_ceiling", "test_save"))
    schedule = Schedule.of(collected, INTERLEAVED, rounds=2)
    schedule.reorder(collected)
    assert [i.originalname for i in collected] == ["test_ceiling", "test_save", "test_save", "test_save",
                                                   "test_ceiling", "test_ceiling"]
    log = Log()
    measured = run_all(schedule, log, collected[:1])
    assert rounds_of(log.events) == ["pytorch", "pytorch"] and measured[("test_ceiling", "pytorch")].order == BLOCKED
    assert schedule.keeps_checkpoints(Path("bench/test_checkpoint.py"))
    assert not schedule.keeps_checkpoints(Path("bench/test_sweep.py"))


def test_a_round_looks_its_method_up_in_the_registry_when_the_cohort_runs(monkeypatch):
    collected = items(("test_save",), methods=("pytorch", "safetensors"))
    schedule = Schedule.of(collected, INTERLEAVED, rounds=1)
    swapped = replace(REGISTRY["safetensors"], label="swapped after collection")
    monkeypatch.setitem(REGISTRY, "safetensors", swapped)
    log = Log()
    run_all(schedule, log, collected)
    assert swapped in log.prepared


@pytest.mark.parametrize("a, b, pairs", [
    ([0, 2, 4], [1, 3, 5], True),  # cycle by cycle
    ([0, 3, 4], [1, 2, 5], True),  # rotated: b's second round ran before a's
    ([0, 1, 2], [3, 4, 5], False),  # blocked
    ([0, 2], [1, 3, 5], False),  # a round missing
    (None, [1, 3], False),  # stored before positions were
])
def test_rounds_pair_only_when_each_pair_ran_before_either_next_round(a, b, pairs):
    assert paired(a, b) is pairs


class Result:
    """What a load round returns: held by nothing but the schedule."""


@pytest.mark.parametrize("order", [INTERLEAVED, BLOCKED])
def test_every_round_starts_with_no_earlier_rounds_result_alive(order):
    collected = items(("test_load_cold",))
    schedule = Schedule.of(collected, order, rounds=3)
    alive, seen = weakref.WeakSet(), []

    def plan(method) -> Plan:
        def setup():
            seen.append(len(alive))
            return ()

        def target():
            result = Result()
            alive.add(result)
            return result

        return Plan(Rounds(target, setup, torch.device("cpu"), Clock(time.perf_counter), disk_path=None),
                    check=lambda measured: seen.append(("checked", measured.result is not None)))

    for item in collected:
        schedule.measured(item, REGISTRY[item.params["method"]], plan)
    assert [n for n in seen if not isinstance(n, tuple)] == [0] * 9
    assert [n for n in seen if isinstance(n, tuple)] == [("checked", True)] * 3 and len(alive) == 0
