"""The regression gate (issue 5): did a method get slower from BASELINE to CURRENT, beyond a noisy machine's drift?

Each run's rounds are divided by a reference measured in the same run (the disk ceiling, or the pytorch
method), so that a machine that is slower as a whole cancels out. A method and operation then fails only
when a one-sided Mann-Whitney U test on the normalised rounds finds the current rounds slower than the
baseline's times (1 + threshold), p <= alpha: a slowdown beyond the threshold AND one the rounds agree on,
not merely some difference (a slowdown under the threshold, or overlapping rounds, pass).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import comb
from statistics import median

from scipy.stats import mannwhitneyu

from plotting.runs import CEILING_OPS, GROUPS, WORKLOAD, Run, RunError
from plotting.tables import Table, fmt_pct

CEILING, REFERENCE, NONE, AUTO = "ceiling", "pytorch", "none", "auto"
NORMALIZE = (AUTO, CEILING, REFERENCE, NONE)
MAX_SLOWDOWN = 0.25
# With 3 rounds a side (the suite's default) the smallest one-sided p is 1/C(6,3) = 0.05, reached when every
# current round is slower than every baseline round x (1 + threshold): "<=" keeps that reachable.
ALPHA = 0.05
REFERENCE_NAMES = {CEILING: "the disk ceiling", REFERENCE: "the pytorch method", NONE: "nothing (absolute times)"}
SAVE_DATA_HINT = "run the benchmark with --benchmark-save-data (pytest.ini sets it) so that the gate can test them"


@dataclass(frozen=True)
class Comparison:
    """One method and operation: medians of the normalised rounds, and the rank test's p-value."""

    method: str
    group: str
    baseline_ms: float
    current_ms: float
    baseline: float  # median round / reference (seconds when not normalised)
    current: float
    p: float  # one-sided: current rounds slower than baseline rounds x (1 + threshold)

    @property
    def slowdown(self) -> float:
        return self.current / self.baseline - 1


@dataclass(frozen=True)
class Verdict:
    normalize: str
    comparisons: tuple[Comparison, ...]
    max_slowdown: float = MAX_SLOWDOWN
    alpha: float = ALPHA

    def regressed(self, c: Comparison) -> bool:
        # p tests current > baseline x (1 + threshold): a significant p also puts the medians beyond the threshold
        return c.p <= self.alpha

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if self.regressed(c))


def check_gateable(base: Run, cur: Run) -> None:
    """Two runs of one workload and the same benchmarks, each with its rounds stored: else one error line."""
    for key in WORKLOAD:
        a, b = base.workload.get(key), cur.workload.get(key)
        if a != b:
            raise RunError(
                f"{cur.source} measured {key} {b} but {base.source} measured {a}; "
                f"gate two runs of the same workload (--ckpt-model, --ckpt-dtype, --ckpt-device, --ckpt-durability)"
            )
    only = sorted(set(base.stats) ^ set(cur.stats))
    if only:
        group, method = only[0]
        has, lacks = (base, cur) if (group, method) in base.stats else (cur, base)
        raise RunError(
            f"{has.source} measured {group} of {method} but {lacks.source} did not; "
            f"gate two runs of the same --ckpt-methods, without -k filters"
        )
    for run in (base, cur):
        missing = next((key for key, s in run.stats.items() if s.data is None), None)
        if missing:
            raise RunError(f"{run.source}: {missing[0]} of {missing[1]} has no stored rounds; {SAVE_DATA_HINT}")


def normalisation(base: Run, cur: Run, requested: str = AUTO) -> str:
    """The reference to divide by: the ceiling where both runs have it, else pytorch (auto), or as requested."""
    groups = {g for g, _ in base.stats}
    lacking = {how: [r.source for r in (base, cur) if not _has(r, how, groups)] for how in (CEILING, REFERENCE)}
    if requested == AUTO:
        found = next((how for how in (CEILING, REFERENCE) if not lacking[how]), None)
        if found is None:
            raise RunError(
                f"no reference in both runs to normalise by (the 'ceiling' group or the '{REFERENCE}' method); "
                f"run without -k and with {REFERENCE} in --ckpt-methods, or pass --normalize none"
            )
        return found
    if requested != NONE and lacking[requested]:
        what = "the 'ceiling' group" if requested == CEILING else f"the '{REFERENCE}' method in every operation"
        raise RunError(f"{lacking[requested][0]} lacks {what} for --normalize {requested}; choose another --normalize")
    return requested


def _has(run: Run, how: str, groups) -> bool:
    if how == CEILING:
        return all(CEILING_OPS[g] in run.ceiling for g in groups)
    return all((g, REFERENCE) in run.stats for g in groups)


def _reference(run: Run, group: str, how: str) -> float:
    if how == CEILING:
        return run.ceiling[CEILING_OPS[group]].median
    return run.get(group, REFERENCE).median if how == REFERENCE else 1.0


def _rounds(run: Run, group: str, method: str, how: str) -> list[float]:
    ref = _reference(run, group, how)
    return [x / ref for x in run.get(group, method).data]


def check_power(base: Run, cur: Run, alpha: float) -> None:
    """With too few rounds no p-value can reach alpha, and a gate that cannot fail is no gate."""
    for key, stat in base.stats.items():
        n, m = len(stat.data), len(cur.stats[key].data)
        if 1 / comb(n + m, n) > alpha:
            needed = next(k for k in range(1, 100) if 1 / comb(2 * k, k) <= alpha)
            raise RunError(
                f"{key[0]} of {key[1]} has {n} and {m} rounds: no difference of so few can reach p <= {alpha:g}; "
                f"run the benchmark with --benchmark-min-rounds={needed} or more, or raise --alpha"
            )


def gate(base: Run, cur: Run, max_slowdown: float = MAX_SLOWDOWN, normalize: str = AUTO,
         alpha: float = ALPHA) -> Verdict:
    check_gateable(base, cur)
    check_power(base, cur, alpha)
    how = normalisation(base, cur, normalize)
    comparisons = []
    for group in GROUPS:
        for method in base.methods:
            if (group, method) not in base.stats or (how == REFERENCE and method == REFERENCE):
                continue  # the reference divided by itself is 1: nothing to gate
            a, b = _rounds(base, group, method, how), _rounds(cur, group, method, how)
            p = float(mannwhitneyu(b, [x * (1 + max_slowdown) for x in a], alternative="greater").pvalue)
            ms = (base.get(group, method).median * 1000, cur.get(group, method).median * 1000)
            comparisons.append(Comparison(method, group, *ms, median(a), median(b), p))
    return Verdict(how, tuple(comparisons), max_slowdown, alpha)


def _unit(how: str) -> str:
    return "s" if how == NONE else f"x {how}"


def verdict_table(verdict: Verdict, everything: bool = False) -> Table:
    """The regressions (or every comparison), with what the gate decided on."""
    unit = _unit(verdict.normalize)
    shown = verdict.comparisons if everything else verdict.regressions
    rows = tuple(
        (c.method, c.group, f"{c.baseline_ms:.3g}", f"{c.current_ms:.3g}", f"{c.baseline:.3g}", f"{c.current:.3g}",
         fmt_pct(c.slowdown * 100), f"{c.p:.3f}", "REGRESSED" if verdict.regressed(c) else "ok")
        for c in shown
    )
    header = ("method", "operation", "base (ms)", "current (ms)", f"base ({unit})", f"current ({unit})", "slowdown",
              "p", "verdict")
    title = "Every method and operation" if everything else "Regressions"
    return Table(title, header, rows, left=(0, 1, 8))


def summary(verdict: Verdict) -> str:
    """The gate's one-line outcome."""
    how = verdict.normalize
    rule = (f"slower by more than {verdict.max_slowdown:.0%} after normalising by {REFERENCE_NAMES[how]}, "
            f"in the median and in the rounds: one-sided Mann-Whitney U p <= {verdict.alpha:g}")
    skipped = f"; {REFERENCE} is the reference, not gated" if how == REFERENCE else ""
    n, bad = len(verdict.comparisons), verdict.regressions
    if not bad:
        return f"ok: none of {n} method/operation pairs regressed ({rule}){skipped}"
    names = ", ".join(f"{c.method} {c.group}" for c in bad)
    return f"FAIL: {len(bad)} of {n} method/operation pairs regressed: {names} ({rule}){skipped}"
