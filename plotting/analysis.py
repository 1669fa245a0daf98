"""The numbers behind every report: improvements vs the baseline, rankings, balance, sizes."""
from __future__ import annotations

import math

from scipy.stats import mannwhitneyu

import runschema
from plotting.runs import Run, Stat
from plotting.verdicts import Ratio, compare
from runschema import BASELINE, CEILING_OPS, GROUPS, LOAD_COLD, LOAD_WARM, SAVE

SIZE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("B", 1))
NOISY = 0.20  # IQR / median above which a median is flagged: the rounds disagree by more than a fifth
PEAKS = (("peak_rss_bytes", "RSS"), ("peak_cuda_bytes", "CUDA"))  # extra_info key, column name


def resolved(a: Stat | None, b: Stat | None, alpha: float = 0.05) -> bool | None:
    """Whether the rounds of two benchmarks differ (Mann-Whitney U, two-sided, p < alpha): a median difference that
    the rounds do not resolve is noise. None without the rounds (a run stored without --benchmark-save-data)."""
    if not (a and b and a.data and b.data):
        return None
    return float(mannwhitneyu(a.data, b.data, alternative="two-sided").pvalue) < alpha


def median(run: Run, group: str, method: str) -> float | None:
    stat = run.get(group, method)
    return stat.median if stat else None


def versus(run: Run, group: str, method: str, reference: str = BASELINE) -> Ratio | None:
    """The method's time over the reference's in one operation of the run, with its interval and verdict."""
    return compare(run.get(group, method), run.get(group, reference))


def time_improvement(run: Run, group: str, method: str) -> float | None:
    """(1 - the method's ratio to the baseline) in %: of the medians, or of the pairs where the rounds paired."""
    ratio = versus(run, group, method)
    return None if ratio is None else ratio.improvement


def disk_bytes(run: Run, method: str) -> int | None:
    return run.info("disk_bytes", method)


def gbps(stat: Stat | None) -> float | None:
    """Logical bytes per median second, in GB/s, of a method or ceiling benchmark."""
    return runschema.throughput_gbps(stat.record.logical_bytes, stat.median) if stat else None


def efficiency(run: Run, group: str, method: str) -> float | None:
    """Ceiling median / method median (1.0 = as fast as the disk allows): as stored, else from the run's ceiling."""
    stat = run.get(group, method)
    if stat is None:
        return None
    if stat.record.efficiency is not None:
        return stat.record.efficiency
    ceiling = run.ceiling.get(CEILING_OPS.get(group))  # merged files: the ceiling may come from another file
    return runschema.efficiency(ceiling.median if ceiling else None, stat.median)


# the disk requests each operation is made of: (stored count, stored bytes, the name of one)
_READS = ("disk_reads", "disk_read_bytes", "read")
REQUESTS = {SAVE: ("disk_writes", "disk_write_bytes", "write"), LOAD_COLD: _READS, LOAD_WARM: _READS}


def requests(stat: Stat | None, group: str) -> tuple[int | None, float | None]:
    """(requests the disk completed in a round, their mean bytes): writes for a save, reads for a load; medians."""
    if stat is None:
        return None, None
    count_key, bytes_key, _ = REQUESTS[group]
    count = getattr(stat.record, count_key)
    return count, runschema.request_bytes(count, getattr(stat.record, bytes_key))


def peak(run: Run, group: str, method: str, key: str) -> int | None:
    """A peak-memory field (PEAKS) of one benchmark, in bytes; None where not measured (CUDA on a CPU run)."""
    stat = run.get(group, method)
    return getattr(stat.record, key) if stat else None


def peak_keys(run: Run) -> list[tuple[str, str]]:
    """The PEAKS that some benchmark of the run measured."""
    return [(k, name) for k, name in PEAKS if any(getattr(s.record, k) is not None for s in run.stats.values())]


def improvement_series(run: Run) -> tuple[list[str], list[tuple[str, list[Ratio | None]]]]:
    """For the figures: the methods other than the baseline (none without it), and (group, each method's ratio to
    the baseline) for save and cold load."""
    others = [m for m in run.methods if m != BASELINE] if BASELINE in run.methods else []
    return others, [(group, [versus(run, group, m) for m in others]) for group in (SAVE, LOAD_COLD)]


def peak_series(run: Run) -> tuple[str, float, list[tuple[str, str, list[int | None]]]]:
    """For the figures: (peak name, group, bytes per method) of every measured peak and stored group, in one unit."""
    cells = [(key, name, g) for key, name in peak_keys(run) for g in GROUPS if run.has(g)]
    series = [(name, g, [peak(run, g, m, key) for m in run.methods]) for key, name, g in cells]
    unit, div = size_unit(v for _, _, values in series for v in values if v)
    return unit, div, series


def cpu_seconds(run: Run, group: str, method: str) -> float | None:
    stat = run.get(group, method)
    return runschema.cpu_seconds(stat.record) if stat else None


def cores_busy(run: Run, group: str, method: str) -> float | None:
    stat = run.get(group, method)
    return runschema.cores_busy(stat.record, stat.median) if stat else None


def noisy(stat: Stat | None) -> bool:
    spread = stat.relative_iqr if stat else None
    return spread is not None and spread > NOISY


def ranked(values: dict[str, float]) -> list[tuple[int, str]]:
    """(rank, method), smallest value first; equal values share a rank (1, 1, 3)."""
    order = sorted(values, key=values.__getitem__)
    ranks: list[tuple[int, str]] = []
    for i, m in enumerate(order):
        tied = i > 0 and values[m] == values[order[i - 1]]
        ranks.append((ranks[-1][0] if tied else i + 1, m))
    return ranks


def medians(run: Run, group: str) -> dict[str, float]:
    return {m: v for m in run.methods if (v := median(run, group, m)) is not None}


def sizes(run: Run) -> dict[str, int]:
    return {m: v for m in run.methods if (v := disk_bytes(run, m)) is not None}


def balance(run: Run) -> dict[str, float]:
    """Geometric mean of save and load-cold time, each relative to the fastest: 1.0 = fastest at both."""
    save, load = medians(run, SAVE), medians(run, LOAD_COLD)
    both = [m for m in save if m in load]
    if not both:
        return {}
    best_save, best_load = min(save[m] for m in both), min(load[m] for m in both)
    return {m: math.sqrt(save[m] / best_save * load[m] / best_load) for m in both}


def size_unit(values) -> tuple[str, int]:
    """The largest binary unit in which the biggest value is at least 1 (the original guide's sizes are GiB)."""
    biggest = max(values, default=0)
    return next(((name, div) for name, div in SIZE_UNITS if biggest >= div), SIZE_UNITS[-1])
