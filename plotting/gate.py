"""The regression gate: did a method get slower from BASELINE to CURRENT, beyond a noisy machine's drift?

Each run's rounds are divided by a reference measured in the same run (the disk ceiling, or the pytorch
method), so that a machine that is slower as a whole cancels out. Each side may be several runs of the same
code: their spread is the run-to-run noise that one run's rounds cannot show, so the gate sets the fastest
current run against the slowest baseline run. A method and operation then fails only when that current
median is beyond the baseline's times (1 + threshold) AND a one-sided Mann-Whitney U test finds the current
rounds slower than the baseline's rounds times (1 + threshold), p <= alpha (overlapping rounds pass). Its table
also gives current / baseline with the interval and verdict of plotting.verdicts (unpaired), which inform and do
not decide.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb
from statistics import median

from scipy.stats import mannwhitneyu

from plotting.runs import Run, RunError, check_same_generation
from runschema import CEILING_OPS, GROUPS, WORKLOAD
from plotting.table import NA, Table, fmt_pct
from plotting.verdicts import CONFIDENCE, SHORT, Ratio, ratio_of

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
    """One method and operation: the slowest baseline run against the fastest current run."""

    method: str
    group: str
    baseline_ms: float
    current_ms: float
    baseline: float  # median round / reference (seconds when not normalised)
    current: float
    p: float  # one-sided: current rounds slower than baseline rounds x (1 + threshold)
    baseline_source: str
    current_source: str
    change: Ratio  # current / baseline of the normalised rounds, unpaired: its interval and verdict (not the rule)

    @property
    def slowdown(self) -> float:
        return self.current / self.baseline - 1


@dataclass(frozen=True)
class Verdict:
    normalize: str
    comparisons: tuple[Comparison, ...]
    max_slowdown: float = MAX_SLOWDOWN
    alpha: float = ALPHA
    runs: tuple[int, int] = (1, 1)  # baseline runs, current runs

    def regressed(self, c: Comparison) -> bool:
        return c.slowdown > self.max_slowdown and c.p <= self.alpha

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if self.regressed(c))


def check_gateable(runs: Sequence[Run]) -> None:
    """Runs of one workload and the same benchmarks, each with its rounds stored: else one error line."""
    base = runs[0]
    for cur in runs[1:]:
        _check_pair(base, cur)
    for run in runs:
        missing = next((key for key, s in run.stats.items() if s.data is None), None)
        if missing:
            raise RunError(f"{run.source}: {missing[0]} of {missing[1]} has no stored rounds; {SAVE_DATA_HINT}")


def _check_pair(base: Run, cur: Run) -> None:
    check_same_generation(base, cur)
    for key in WORKLOAD:
        a, b = base.workload.get(key), cur.workload.get(key)
        if a != b:
            raise RunError(
                f"{cur.source} measured {key} {b} but {base.source} measured {a}; "
                f"gate two runs of the same workload (--ckpt-model, --ckpt-state, --ckpt-dtype, --ckpt-device, --ckpt-durability)"
            )
    a, b = base.info("world_size") or 1, cur.info("world_size") or 1
    if a != b:
        raise RunError(f"{cur.source} ran at {b} ranks but {base.source} at {a}; gate two runs of the same world size")
    only = sorted(set(base.stats) ^ set(cur.stats))
    if only:
        group, method = only[0]
        has, lacks = (base, cur) if (group, method) in base.stats else (cur, base)
        raise RunError(
            f"{has.source} measured {group} of {method} but {lacks.source} did not; "
            f"gate two runs of the same --ckpt-methods, without -k filters"
        )


def normalisation(runs: Sequence[Run], requested: str = AUTO) -> str:
    """The reference to divide by: as requested, or (auto) of those every run has, the steadiest across the runs."""
    groups = {g for g, _ in runs[0].stats if g in CEILING_OPS}  # the gated groups: those with a reference
    lacking = {how: [r.source for r in runs if not _has(r, how, groups)] for how in (CEILING, REFERENCE)}
    if requested == AUTO:
        found = [how for how in (CEILING, REFERENCE) if not lacking[how]]
        if not found:
            raise RunError(
                f"no reference in every run to normalise by (the 'ceiling' group or the '{REFERENCE}' method); "
                f"run without -k and with {REFERENCE} in --ckpt-methods, or pass --normalize none"
            )
        # a reference stands for the machine: one that moves more than the other between runs adds its own noise
        return min(found, key=lambda how: drift(runs, how, groups))
    if requested != NONE and lacking[requested]:
        what = "the 'ceiling' group" if requested == CEILING else f"the '{REFERENCE}' method in every operation"
        raise RunError(f"{lacking[requested][0]} lacks {what} for --normalize {requested}; choose another --normalize")
    return requested


def drift(runs: Sequence[Run], how: str, groups) -> float:
    """How far the reference's median moves between the runs: the largest max/min ratio over the operations."""
    return max(max(refs) / min(refs) for g in groups if (refs := [_reference(r, g, how) for r in runs]))


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


def _pick(choose, runs: Sequence[Run], group: str, method: str, how: str) -> tuple[Run, list[float]]:
    """The run whose normalised median `choose` (max or min) selects, with its normalised rounds."""
    return choose(((r, _rounds(r, group, method, how)) for r in runs), key=lambda pair: median(pair[1]))


def check_power(bases: Sequence[Run], curs: Sequence[Run], alpha: float) -> None:
    """With too few rounds no p-value can reach alpha, and a gate that cannot fail is no gate."""
    for key in (k for k in bases[0].stats if k[0] in CEILING_OPS):  # --ckpt-async's groups are reported, not gated
        n, m = (min(len(run.stats[key].data) for run in side) for side in (bases, curs))
        if 1 / comb(n + m, n) > alpha:
            needed = next(k for k in range(1, 100) if 1 / comb(2 * k, k) <= alpha)
            raise RunError(
                f"{key[0]} of {key[1]} has {n} and {m} rounds: no difference of so few can reach p <= {alpha:g}; "
                f"run the benchmark with --benchmark-min-rounds={needed} or more, or raise --alpha"
            )


def gate(bases: Sequence[Run], curs: Sequence[Run], max_slowdown: float = MAX_SLOWDOWN, normalize: str = AUTO,
         alpha: float = ALPHA) -> Verdict:
    """Every method and operation: the fastest current run against the slowest baseline run, both normalised."""
    check_gateable([*bases, *curs])
    check_power(bases, curs, alpha)
    how = normalisation([*bases, *curs], normalize)
    comparisons = []
    for group in GROUPS:
        for method in bases[0].methods:
            if (group, method) not in bases[0].stats or (how == REFERENCE and method == REFERENCE):
                continue  # the reference divided by itself is 1: nothing to gate
            (base, a), (cur, b) = _pick(max, bases, group, method, how), _pick(min, curs, group, method, how)
            p = float(mannwhitneyu(b, [x * (1 + max_slowdown) for x in a], alternative="greater").pvalue)
            ms = (base.get(group, method).median * 1000, cur.get(group, method).median * 1000)
            comparisons.append(Comparison(method, group, *ms, median(a), median(b), p, base.source, cur.source,
                                          ratio_of(b, a)))
    return Verdict(how, tuple(comparisons), max_slowdown, alpha, (len(bases), len(curs)))


def _unit(how: str) -> str:
    return "s" if how == NONE else f"x {how}"


def verdict_table(verdict: Verdict, everything: bool = False) -> Table:
    """The regressions (or every comparison), with what the gate decided on."""
    unit = _unit(verdict.normalize)
    shown = verdict.comparisons if everything else verdict.regressions
    rows = tuple(
        (c.method, c.group, f"{c.baseline_ms:.3g}", f"{c.current_ms:.3g}", f"{c.baseline:.3g}", f"{c.current:.3g}",
         fmt_pct(c.slowdown * 100), _slowdowns(c.change), SHORT[c.change.verdict], f"{c.p:.3f}",
         "REGRESSED" if verdict.regressed(c) else "ok")
        for c in shown
    )
    header = ("method", "operation", "base (ms)", "current (ms)", f"base ({unit})", f"current ({unit})", "slowdown",
              f"{CONFIDENCE:.0%} CI", "change", "p", "verdict")
    title = "Every method and operation" if everything else "Regressions"
    note = f"{CONFIDENCE:.0%} CI and change: of current / base, unpaired (docs/verdicts.md); verdict: the gate's rule"
    return Table(title, header, rows, note, left=(0, 1, 8, 10))


def _slowdowns(r: Ratio) -> str:
    """The interval as slowdowns in %: "[+20.1, +35.0]"."""
    return NA if r.low is None else f"[{(r.low - 1) * 100:+.1f}, {(r.high - 1) * 100:+.1f}]"


def _side(runs: int, chosen: str) -> str:
    return "its one run" if runs == 1 else f"the {chosen} of {runs} runs"


def summary(verdict: Verdict) -> str:
    """The gate's one-line outcome."""
    how = verdict.normalize
    rule = (f"slower by more than {verdict.max_slowdown:.0%} after normalising by {REFERENCE_NAMES[how]}, "
            f"in the median and in the rounds: one-sided Mann-Whitney U p <= {verdict.alpha:g}")
    if verdict.runs != (1, 1):
        n_base, n_cur = verdict.runs
        rule += f"; current: {_side(n_cur, 'fastest')}, baseline: {_side(n_base, 'slowest')}"
    skipped = f"; {REFERENCE} is the reference, not gated" if how == REFERENCE else ""
    n, bad = len(verdict.comparisons), verdict.regressions
    if not bad:
        return f"ok: none of {n} method/operation pairs regressed ({rule}){skipped}"
    names = ", ".join(f"{c.method} {c.group}" for c in bad)
    single = "; one run a side cannot tell a regression from run-to-run noise: " \
             "gate directories of three runs each to be sure" if verdict.runs == (1, 1) else ""
    return f"FAIL: {len(bad)} of {n} method/operation pairs regressed: {names} ({rule}){skipped}{single}"
