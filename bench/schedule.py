"""The order of the timed rounds (README: Order of rounds, --ckpt-order).

A cohort is the tests of one benchmark function of an interleaved group (save, load-cold, load-warm) that differ only
by method. Interleaved (the default), the first test of a cohort to run prepares every method of the cohort, runs
their warm-up rounds, then the timed rounds in cycles, the k-th round of every method in cycle k, in an order that
rotates by one method per cycle; each test of the cohort then hands its own method's rounds to its fixture. So every
method meets the same minutes of the machine, and rounds of one cycle pair (runschema.paired). Blocked, and for every
other benchmark, a test runs its own rounds back to back when it runs (pytest-benchmark's own order).

A round's preparation stays with its method (Plan.rounds' setup: an empty directory before a save, eviction right
before a cold load); a method that fails (preparing, in a round, or in its check) drops out of the cycles, and its own
test raises that failure. Only synchronous operations are interleaved: no background work outlives a round.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable

import pytest

from bench.ranks import RankError
from bench.timing import Measured, Rounds, run_blocked
from runschema import GROUPS, INTERLEAVED  # GROUPS: save, load-cold, load-warm, whose methods' rounds interleave


@dataclass
class Plan:
    """One method's part of a cohort: its rounds, and what is checked (untimed) once they are done, e.g. that the last
    round's checkpoint round-trips. `failed` tidies up after a failure (a save's partial checkpoint goes)."""

    rounds: Rounds
    check: Callable[[Measured], None] = lambda measured: None
    failed: Callable[[], None] = lambda: None


@dataclass
class _Outcome:
    measured: Measured | None = None
    error: BaseException | None = None


def group(item) -> str | None:
    marker = item.get_closest_marker("benchmark")
    return marker.kwargs.get("group") if marker else None


def cohort_key(item) -> tuple | None:
    """The cohort an item belongs to: its function and any params besides `method`; None outside GROUPS."""
    callspec = getattr(item, "callspec", None)
    if group(item) not in GROUPS or callspec is None or "method" not in callspec.params:
        return None
    others = tuple(sorted((k, str(v)) for k, v in callspec.params.items() if k != "method"))
    return (str(item.path), item.originalname, others)


@dataclass
class Schedule:
    order: str = INTERLEAVED
    rounds: int = 3
    cohorts: dict[tuple, list[str]] = field(default_factory=dict)  # cohort key -> method ids, in the run's order
    _outcomes: dict[tuple, dict[str, _Outcome]] = field(default_factory=dict)
    _runners: dict[tuple, str] = field(default_factory=dict)  # cohort key -> the test that ran its rounds
    ran_in: dict[str, str] = field(default_factory=dict)  # test id -> the test whose run its rounds were part of
    progress: Callable[[str], None] = lambda line: None

    @classmethod
    def of(cls, items, order: str, rounds: int, progress: Callable[[str], None] = lambda line: None) -> Schedule:
        """The schedule of the items that will run; interleaved, the items of each cohort move together, in the
        place of its first, so that a cohort's tests report one after another."""
        cohorts: dict[tuple, list[str]] = {}
        if order == INTERLEAVED:
            for item in items:
                if (key := cohort_key(item)) is not None:
                    cohorts.setdefault(key, []).append(item.callspec.params["method"])
        together = {key: ids for key, ids in cohorts.items() if len(ids) > 1}  # one method alone runs blocked
        return cls(order, rounds, together, progress=progress)

    def reorder(self, items: list) -> None:
        """Interleaved: each cohort's items together, at the place of its first; every other item keeps its place."""
        first: dict[tuple, int] = {}
        places = []
        for i, item in enumerate(items):
            key = cohort_key(item) if self.cohorts else None
            places.append((first.setdefault(key, i) if key is not None else i, i))
        items[:] = [item for _, item in sorted(zip(places, items), key=lambda pair: pair[0])]

    def methods(self) -> list[str]:
        """The ids of the methods whose checkpoints are all on disk at once in some module (its cohorts')."""
        return list(dict.fromkeys(m for ids in self.cohorts.values() for m in ids))

    def keeps_checkpoints(self, path) -> bool:
        """Whether the module at `path` interleaves, so that every method's checkpoint stays until its end."""
        return any(key[0] == str(path) for key in self.cohorts)

    def measured(self, item, method, plan: Callable[[object], Plan]) -> Measured:
        """This test's rounds of `method`. `plan(m)` prepares method `m` (any of the cohort's, looked up in the
        registry now: bench.methods.REGISTRY at the time of the round). Raises the failure of this method's rounds."""
        key = cohort_key(item)
        if key not in self.cohorts or method.id not in self.cohorts[key]:
            return run_alone(plan(method), self.rounds)
        if key not in self._outcomes:
            self._runners[key] = item.nodeid
            try:
                self._outcomes[key] = self._run_cohort(key, group(item), plan)
            except Exception as e:  # beyond any one method (its progress line, say): every test of the cohort fails
                self._outcomes[key] = {m: _Outcome(error=e) for m in self.cohorts[key]}
        elif self._runners[key] != item.nodeid:
            self.ran_in[item.nodeid] = self._runners[key]
        outcome = self._outcomes[key].pop(method.id)
        if outcome.error is not None:
            raise outcome.error
        return outcome.measured

    def _run_cohort(self, key: tuple, name: str, plan: Callable[[object], Plan]) -> dict[str, _Outcome]:
        from bench.plugin import find_method  # the registry entry as it is now (tests swap entries at start-up)

        ids = self.cohorts[key]
        outcomes = {i: _Outcome() for i in ids}
        plans: dict[str, Plan] = {}

        def attempt(method_id: str, step: Callable[[], None]) -> None:
            try:
                step()
            except (KeyboardInterrupt, SystemExit, RankError, pytest.exit.Exception):
                raise  # the run stops on every rank alike
            except BaseException as e:  # pytest.fail's and DCP's exceptions are BaseExceptions
                traceback.clear_frames(e.__traceback__)  # its frames would hold a loaded state until its test raises
                outcomes[method_id].error = e
                failed = plans.pop(method_id, None)
                if failed is not None:
                    failed.failed()

        checked: set[str] = set()

        def check(method_id: str) -> None:
            checked.add(method_id)
            measured = plans[method_id].rounds.measured
            measured.order = INTERLEAVED
            attempt(method_id, lambda: plans[method_id].check(measured))
            measured.result = None

        for method_id in ids:
            attempt(method_id, lambda: plans.__setitem__(method_id, plan(find_method(method_id))))
        for method_id in list(plans):
            attempt(method_id, plans[method_id].rounds.warm_up)
        for cycle in range(self.rounds):
            turn = _rotated(list(plans), cycle)
            last = cycle == self.rounds - 1
            for method_id in turn:
                attempt(method_id, lambda: plans[method_id].rounds.timed(keep=last))
                if last and method_id in plans and plans[method_id].rounds.measured.result is not None:
                    check(method_id)  # a load's result is checked at once and let go: one held at a time
            self.progress(f"ckpt-bench: {name}, round {cycle + 1} of {self.rounds}: {_times(turn, plans, outcomes)}")
        for method_id in [m for m in plans if m not in checked]:
            check(method_id)  # a save's checkpoint, verified once every round has run: the cycles stay alike
        for method_id, p in plans.items():
            outcomes[method_id].measured = p.rounds.measured
        return outcomes


def _times(turn: list[str], plans: dict[str, Plan], outcomes: dict[str, _Outcome]) -> str:
    """Each method's time in the cycle just run, in its order; a method that failed says so."""
    def one(method_id: str) -> str:
        if method_id not in plans:
            return f"{method_id} failed ({type(outcomes[method_id].error).__name__})"
        start, stop = plans[method_id].rounds.measured.readings[-1]
        return f"{method_id} {(stop - start) * 1e3:.1f} ms"

    return ", ".join(map(one, turn))


def _rotated(ids: list[str], cycle: int) -> list[str]:
    """Cycle k starts at the k-th method: with as many cycles as methods, every method takes every place in the
    turn."""
    k = cycle % len(ids) if ids else 0
    return ids[k:] + ids[:k]


def run_alone(plan: Plan, rounds: int) -> Measured:
    """The plan's rounds back to back (blocked), then its check; the result is let go once checked."""
    try:
        measured = run_blocked(plan.rounds, rounds)
        plan.check(measured)
    except BaseException:
        plan.failed()
        raise
    measured.result = None
    return measured
