"""How much faster or slower one benchmark is than another: the ratio of their times, its confidence interval, and
the verdict that interval supports (docs/verdicts.md).

Rounds that ran side by side (runschema.Record.pairs_with: one interleaved run) pair: the ratio is exp(median of the per-pair
log ratios), and the bootstrap resamples the pairs, so that drift shared by both cancels. Otherwise the ratio is
of the medians, and the bootstrap resamples each benchmark's rounds on its own. The interval is scipy's BCa bootstrap
(percentile where BCa is degenerate), from a fixed generator state so that a report is the same every time it is
made. Below 6 rounds a bootstrap of a median holds less than its level (docs/verdicts.md, "Few rounds"). A verdict calls a difference only when the interval excludes 1 and the ratio is beyond FACTOR.
"""
from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import bootstrap

import runschema
from plotting.runs import Stat
from plotting.table import NA

FACTOR = 1.05  # a ratio within 5% of 1 is not called a difference, however narrow its interval
CONFIDENCE = 0.95  # of the interval
RESAMPLES = 9999  # scipy's default: enough for the 2.5% tails of a 95% interval
RNG_STATE = 20260101  # the resampling's generator state: the same run always gives the same intervals
FASTER, SLOWER, SAME = "faster", "slower", "same"
WORDS = {FASTER: "faster", SLOWER: "slower", SAME: "no difference shown"}
SHORT = {FASTER: "faster", SLOWER: "slower", SAME: "~"}  # where a column has no room for the words
RULE = (f"{CONFIDENCE:.0%} CI: bootstrap of the rounds, paired where they ran side by side; faster or slower: the "
        f"interval excludes 1 and the ratio is beyond {FACTOR:g}x; otherwise no difference shown (~); {NA}: no stored "
        f"rounds (docs/verdicts.md)")


@dataclass(frozen=True)
class Ratio:
    """A benchmark's time over a reference's: the estimate, its interval (None without stored rounds), the verdict,
    whether the rounds paired, and how many rounds it rests on (pairs, else the smaller benchmark's; 0: none)."""

    ratio: float
    low: float | None
    high: float | None
    verdict: str
    paired: bool
    n: int

    @property
    def improvement(self) -> float:
        """(1 - ratio) in %: positive means less time than the reference, as runschema.improvement."""
        return runschema.improvement(1.0, self.ratio)

    @property
    def improvements(self) -> tuple[float, float] | None:
        """The interval as improvements in %, lower first."""
        if self.low is None:
            return None
        return runschema.improvement(1.0, self.high), runschema.improvement(1.0, self.low)


def verdict(ratio: float, low: float | None, high: float | None) -> str:
    """SLOWER or FASTER when the interval excludes 1 and the ratio is beyond FACTOR that way; SAME otherwise."""
    if low is not None and low > 1 and ratio > FACTOR:
        return SLOWER
    if high is not None and high < 1 and ratio < 1 / FACTOR:
        return FASTER
    return SAME


def compare(stat: Stat | None, reference: Stat | None, pair: bool = True) -> Ratio | None:
    """`stat`'s time over `reference`'s; None when either was not measured. With `pair` (two benchmarks of one run),
    rounds pair where the records say they ran side by side (runschema.Record.pairs_with); never across two runs."""
    if stat is None or reference is None:
        return None
    paired = pair and stat.record.pairs_with(reference.record)
    # a run stored without its rounds: the median stands for them, and one round has no interval
    return ratio_of(stat.data or (stat.median,), reference.data or (reference.median,), paired)


def usable(rounds: Sequence[float]) -> bool:
    """Rounds an interval can come from: two or more, none of zero seconds (which has no log ratio)."""
    return len(rounds) >= 2 and min(rounds) > 0


def ratio_of(rounds: Sequence[float], reference: Sequence[float], paired: bool = False) -> Ratio:
    """The Ratio of two sets of round times; paired: the k-th of each ran side by side. Without two usable sets,
    the ratio of the medians with no interval: no difference can be shown."""
    if not (usable(rounds) and usable(reference)):
        return Ratio(statistics.median(rounds) / statistics.median(reference), None, None, SAME, False, 0)
    ratio, low, high = _interval(tuple(rounds), tuple(reference), paired)
    n = len(rounds) if paired else min(len(rounds), len(reference))
    return Ratio(ratio, low, high, verdict(ratio, low, high), paired, n)


def _log_median_ratio(a, b, axis=-1):
    return np.log(np.median(a, axis=axis) / np.median(b, axis=axis))


@lru_cache(maxsize=4096)  # a report asks for the same comparison in several tables
def _interval(a: tuple[float, ...], b: tuple[float, ...], paired: bool) -> tuple[float, float, float]:
    """(ratio, low, high); an interval of a statistic that no resample can move is the ratio itself."""
    if paired:
        logs = np.log(np.array(a) / np.array(b))
        data, statistic, constant = (logs,), np.median, np.ptp(logs) == 0
    else:
        data, statistic, constant = (np.array(a), np.array(b)), _log_median_ratio, np.ptp(a) == np.ptp(b) == 0
    estimate = float(statistic(*data))
    if constant:
        return math.exp(estimate), math.exp(estimate), math.exp(estimate)
    low, high = _bootstrap(data, statistic, "BCa")
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa's jackknife cannot vary (ties): percentile then
        low, high = _bootstrap(data, statistic, "percentile")
    return math.exp(estimate), math.exp(low), math.exp(high)


def _bootstrap(data: tuple, statistic, method: str) -> tuple[float, float]:
    with warnings.catch_warnings():  # scipy's warnings about degenerate resamples: handled above, not the reader's
        warnings.simplefilter("ignore")
        ci = bootstrap(data, statistic, n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method=method,
                       vectorized=True, rng=np.random.default_rng(RNG_STATE)).confidence_interval
    return float(ci.low), float(ci.high)


def fmt_ratio(x: float) -> str:
    """Two decimals; two significant digits below 0.1 (0.047)."""
    return f"{x:.2f}" if x >= 0.095 else f"{x:.2g}"  # 0.0999 rounds to 0.10, not 0.1


def fmt_ci(r: Ratio) -> str | None:
    """The interval as "[0.93, 1.04]"; None without one."""
    return None if r.low is None else f"[{fmt_ratio(r.low)}, {fmt_ratio(r.high)}]"


def fmt_ratio_ci(r: Ratio) -> str:
    """"0.98 [0.93, 1.04]", or the ratio alone without an interval."""
    ci = fmt_ci(r)
    return fmt_ratio(r.ratio) + (f" {ci}" if ci else "")


def fmt_pct_ci(r: Ratio) -> str | None:
    """The interval as improvements: "[+25.0, +36.1]"; None without one."""
    pcts = r.improvements
    return None if pcts is None else f"[{pcts[0]:+.1f}, {pcts[1]:+.1f}]"
