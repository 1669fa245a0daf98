"""Every chart of the figures as data, built once from a run: figures.py draws these with matplotlib, svg.py with
pygal, so the PNG and the SVG show the same titles, axes, series and numbers."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

from plotting import analysis
from plotting.runs import Run, Stat
from plotting.verdicts import CONFIDENCE, FACTOR, SAME, WORDS, Ratio, fmt_pct_ci
from plotting.tables import (
    EFFICIENCY_NOTE, FLAG, NA, NO_BASELINE, NO_CEILING, NO_PEAKS, NO_SIZES, NO_TRAIN_NONE, TRAIN_TITLE, baseline_label,
    ceiling_line, fmt_efficiency, fmt_pct, headline, ms_format, train_loop, train_methods, train_overheads,
)
from runschema import (
    ASYNC_DURABLE, ASYNC_GROUPS, ASYNC_STALL, BASELINE, GROUPS, LOAD_COLD, LOAD_WARM, SAVE, TRAIN_ASYNC, TRAIN_MODES,
    TRAIN_NONE, TRAIN_SYNC,
)

LINEAR, LOG = "linear", "log"
COLORS = {SAVE: "#4C72B0", LOAD_COLD: "#DD8452", LOAD_WARM: "#F3BE94", "size": "#55A868",
          ASYNC_STALL: "#C44E52", ASYNC_DURABLE: "#8172B3", TRAIN_SYNC: "#4C72B0", TRAIN_ASYNC: "#C44E52"}
SERIES_NAMES = {SAVE: "save", LOAD_COLD: "load (cold)", LOAD_WARM: "load (warm)",
                ASYNC_STALL: "async stall", ASYNC_DURABLE: "async durable",
                TRAIN_SYNC: "sync checkpoints", TRAIN_ASYNC: "async checkpoints"}
ASYNC_TITLE = "Asynchronous saves"
MANTISSAS = (1, 2, 5)
MAX_TICKS = 7  # more 1-2-5 ticks than this crowd a panel: label the decades only
SHORTEST_BAR = 1.5  # a log axis starts at least this factor below the smallest value, so that no bar is a sliver
MEMORY = (("RSS", "Peak RSS per operation", "resident"), ("CUDA", "Peak CUDA memory per operation", "allocated"))
RATIOS = (1.5, 2, 4, 10, 20, 40, 100, 1000)  # compare.png's ticks above 1x; their inverses below (0.67x, 0.5x, ...)


@dataclass(frozen=True)
class PanelSeries:
    """One colour of bars: a value per category (None: not measured), the text at each bar's end, the tooltip the SVG
    shows on hover, and optionally the rounds' spread or an interval (low, high) drawn as whiskers, and which bars
    are drawn pale (a difference that the rounds do not show)."""

    name: str
    color: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]
    tooltips: tuple[str, ...]
    spreads: tuple[tuple[float, float] | None, ...] | None = None
    pale: tuple[bool, ...] | None = None


@dataclass(frozen=True)
class Panel:
    """One chart of grouped horizontal bars, first category on top."""

    title: str
    axis_label: str
    categories: tuple[str, ...]
    series: tuple[PanelSeries, ...]
    tick_format: Callable[[float], str]  # a value axis tick's label, unit included where the axis label has none
    scale: str = LINEAR
    ticks: tuple[float, ...] | None = None  # the labelled values of a log axis; None: the renderer chooses
    origin: float = 0.0  # where the bars start
    reference: float | None = None  # a value marked across the bars (0% or 1x)
    no_data: str = f"{NA}: no data"

    @property
    def has_data(self) -> bool:
        return any(v is not None for s in self.series for v in s.values)

    @property
    def bars(self) -> int:
        """Bar slots, measured or not: what the chart's height must make room for."""
        return len(self.categories) * len(self.series)


def performance_panels(run: Run) -> list[Panel]:
    """Save time, load time, size on disk, improvement vs the baseline, efficiency vs the disk ceiling, peak RSS, and
    peak CUDA memory when the run measured it."""
    return [
        time_panel(run, "Save time", "median time per save", (SAVE,)),
        time_panel(run, "Load time", "median time per load", (LOAD_COLD, LOAD_WARM)),
        size_panel(run), improvement_panel(run), efficiency_panel(run), *memory_panels(run),
        *filter(None, [async_panel(run), train_panel(run)]),
    ]


def heading(run: Run) -> list[str]:
    return [f"Checkpoint save and load: {len(run.methods)} methods", headline(run)]


def footnote(run: Run) -> str:
    stats = [s for g in GROUPS for m in run.methods if (s := run.get(g, m))]
    spreads = sorted({s.spread for s in stats if s.spread})
    whiskers = f"; the times' whiskers: {' or '.join(spreads)} of the rounds" if spreads else ""
    flag = f"; {FLAG}: the rounds' IQR is over {analysis.NOISY:.0%} of their median"
    where = "load (cold): page cache evicted before every round; load (warm): the checkpoint in the page cache"
    return f"bars: medians of the rounds{whiskers}{flag}; {where}"


def method_labels(run: Run) -> tuple[str, ...]:
    return tuple(run.label(m) + (" (baseline)" if m == BASELINE else "") for m in run.methods)


def time_panel(run: Run, title: str, measure: str, groups: tuple[str, ...]) -> Panel:
    series = tuple(_time_series(run, g) for g in groups if run.has(g))
    ends = bar_ends(series)
    ticks = log_ticks(min(ends) / SHORTEST_BAR, max(ends))
    return Panel(title, f"{measure} (log scale)", method_labels(run), series, time_label, LOG, ticks, ticks[0])


def async_panel(run: Run) -> Panel | None:
    """--ckpt-async: per method that has them, the synchronous save, the stall and the time until durable; None for
    a run without asynchronous saves."""
    methods = tuple(m for m in run.methods if any(run.get(g, m) for g in ASYNC_GROUPS))
    if not methods:
        return None
    series = tuple(_time_series(run, g, methods) for g in (SAVE, ASYNC_STALL, ASYNC_DURABLE))
    ends = bar_ends(series)
    ticks = log_ticks(min(ends) / SHORTEST_BAR, max(ends))
    labels = tuple(run.label(m) for m in methods)
    return Panel(ASYNC_TITLE, "median time (log scale); stall: until the tensors may change again; durable: until "
                 "on stable storage", labels, series, time_label, LOG, ticks, ticks[0])


def train_panel(run: Run) -> Panel | None:
    """--ckpt-async's train group: per method, how much longer a round of training took with its synchronous and its
    asynchronous checkpoints than without, in %; None for a run without the group."""
    if not run.train:
        return None
    methods = train_methods(run)
    ms, without = ms_format(run), run.train.get((TRAIN_NONE, TRAIN_NONE))

    def tooltip(mode: str, method: str, pct: float | None) -> str:
        stat = run.train.get((method, mode))
        rounds = f", round {ms(stat.median)} ms vs {ms(without.median)} ms" if stat and without else ""
        return f"{SERIES_NAMES[mode]}: {fmt_pct(pct)}{rounds}"

    overheads = [train_overheads(run, m) for m in methods]
    series = []
    for i, mode in enumerate(TRAIN_MODES):
        pcts = tuple(o[i] for o in overheads)
        tooltips = tuple(tooltip(mode, m, p) for m, p in zip(methods, pcts))
        series.append(PanelSeries(SERIES_NAMES[mode], COLORS[mode], pcts, tuple(map(fmt_pct, pcts)), tooltips))
    label = f"% longer than the round without checkpoints; a round: {train_loop(run)}"
    return Panel(TRAIN_TITLE, label, tuple(run.label(m) for m in methods), tuple(series), signed_pct, reference=0.0,
                 no_data=f"{NA}: {NO_TRAIN_NONE}")


def bar_ends(series) -> list[float]:
    """Every value and whisker end of the series: what a log axis's ticks must cover."""
    return [x for s in series for x in (*s.values, *(x for pair in s.spreads or () if pair for x in pair))
            if x is not None]


def _time_series(run: Run, group: str, methods: tuple[str, ...] | None = None) -> PanelSeries:
    ms, name = ms_format(run), SERIES_NAMES[group]
    stats = [run.get(group, m) for m in (run.methods if methods is None else methods)]
    return PanelSeries(
        name,
        COLORS[group],
        tuple(s.median * 1000 if s else None for s in stats),
        tuple(NA if s is None else f"{ms(s.median)} ms" + (f" {FLAG}" if analysis.noisy(s) else "") for s in stats),
        tuple(_time_tooltip(s, name, ms) for s in stats),
        tuple((s.low * 1000, s.high * 1000) if s and s.spread else None for s in stats),
    )


def _time_tooltip(stat: Stat | None, name: str, ms) -> str:
    if stat is None:
        return f"{name}: {NA}"
    spread = f", {stat.spread} {ms(stat.low)} to {ms(stat.high)} ms" if stat.spread else ""
    rounds = f", {stat.rounds} rounds" if stat.rounds else ""
    flag = f" {FLAG} IQR {stat.relative_iqr:.0%} of the median" if analysis.noisy(stat) else ""
    return f"{name}: median {ms(stat.median)} ms{spread}{rounds}{flag}"


def size_panel(run: Run) -> Panel:
    sizes = [analysis.disk_bytes(run, m) for m in run.methods]
    unit, div = analysis.size_unit(b for b in sizes if b is not None)
    values = tuple(None if b is None else b / div for b in sizes)
    series = PanelSeries(
        "size", COLORS["size"], values, tuple(_number(v) for v in values),
        tuple(NA if b is None else f"{b:,} bytes on disk" for b in sizes),
    )
    return Panel("Size on disk", f"size on disk ({unit}, allocated blocks)", method_labels(run), (series,), _plain,
                 no_data=f"{NA}: {NO_SIZES}")


def improvement_panel(run: Run) -> Panel:
    """Per method, (1 - its ratio to the baseline) in % with the ratio's interval as whiskers, pale where the
    verdict shows no difference."""
    base = baseline_label(run)
    others, ratios = analysis.improvement_series(run)
    series = tuple(_improvement_series(g, rs) for g, rs in ratios) if others else ()
    label = f"% less time than {base} (positive = faster); whiskers: {CONFIDENCE:.0%} CI; {pale_note('0')}"
    return Panel(f"Improvement vs {base} baseline", label, tuple(run.label(m) for m in others), series, signed_pct,
                 reference=0.0, no_data=f"{NA}: {NO_BASELINE}")


def _improvement_series(group: str, ratios: list[Ratio | None]) -> PanelSeries:
    name = SERIES_NAMES[group]
    pcts = tuple(None if r is None else r.improvement for r in ratios)
    return PanelSeries(name, COLORS[group], pcts, tuple(map(fmt_pct, pcts)),
                       tuple(_improvement_tooltip(name, r) for r in ratios),
                       tuple(None if r is None else r.improvements for r in ratios), pale(ratios))


def _improvement_tooltip(name: str, r: Ratio | None) -> str:
    if r is None:
        return f"{name}: {NA}"
    ci = fmt_pct_ci(r)
    return f"{name} {fmt_pct(r.improvement)}{f' {ci}' if ci else ''} vs {BASELINE}: {WORDS[r.verdict]}"


def pale(ratios: Sequence[Ratio | None]) -> tuple[bool, ...]:
    """The bars of ratios whose verdict shows no difference."""
    return tuple(r is not None and r.verdict == SAME for r in ratios)


def pale_note(no_change: str) -> str:
    """What a pale bar means, on an axis where `no_change` (0%, 1x) is no difference."""
    return f"pale: no difference shown (the interval spans {no_change}, or the difference is under {FACTOR - 1:.0%})"


def efficiency_panel(run: Run) -> Panel:
    series = []
    for group in (g for g in GROUPS if run.has(g) and run.ceiling):
        ratios = [analysis.efficiency(run, group, m) for m in run.methods]
        name = SERIES_NAMES[group]
        series.append(PanelSeries(
            name, COLORS[group], tuple(None if r is None else r * 100 for r in ratios),
            tuple(fmt_efficiency(r) for r in ratios), tuple(f"{name}: {fmt_efficiency(r)}" for r in ratios),
        ))
    label = f"{EFFICIENCY_NOTE}\n{ceiling_line(run)}" if run.ceiling else EFFICIENCY_NOTE
    return Panel("Efficiency vs the disk ceiling", label, method_labels(run), tuple(series), percent,
                 no_data=f"{NA}: {NO_CEILING}")


def memory_panels(run: Run) -> list[Panel]:
    """Peak RSS, then peak CUDA memory where measured: one panel each, so that every bar has room for its text."""
    unit, div, peaks = analysis.peak_series(run)
    measured = [name for _, name in analysis.peak_keys(run)]
    return [
        Panel(
            title, f"{what} memory above the level before the operation ({unit}), one untimed round",
            method_labels(run), tuple(_memory_series(name, g, b, div) for kind, g, b in peaks if kind == name),
            _plain, no_data=f"{NA}: {NO_PEAKS}",
        )
        for name, title, what in MEMORY
        if name == "RSS" or name in measured  # RSS says why it is missing; CUDA is only there on a CUDA run
    ]


def _memory_series(name: str, group: str, peak_bytes: list[int | None], div: float) -> PanelSeries:
    values = tuple(None if b is None else b / div for b in peak_bytes)
    tooltips = tuple(f"{SERIES_NAMES[group]} {name}: {NA if b is None else f'{b:,} bytes'}" for b in peak_bytes)
    return PanelSeries(SERIES_NAMES[group], COLORS[group], values, tuple(map(_number, values)), tooltips)


def log_ticks(low: float, high: float) -> tuple[float, ...]:
    """1-2-5 values from the largest at or below `low` to the smallest at or above `high`; decades when that is
    more than MAX_TICKS."""
    start = max(log_values(low / 10, low, MANTISSAS))
    stop = min(log_values(high, high * 10, MANTISSAS))
    ticks = log_values(start, stop, MANTISSAS)
    if len(ticks) <= MAX_TICKS:
        return ticks
    return log_values(10.0 ** math.floor(math.log10(start)), 10.0 ** math.ceil(math.log10(stop)), (1,))


def log_values(low: float, high: float, mantissas: tuple[int, ...]) -> tuple[float, ...]:
    """Every mantissa times every power of ten, from `low` to `high` (inclusive, give or take rounding)."""
    powers = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    values = (round(m * 10.0**k, 12 - k) for k in powers for m in mantissas)
    return tuple(v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9))


def ratio_ticks(low: float, high: float) -> tuple[float, ...]:
    """1x and the RATIOS (and their inverses) from the nearest at or below `low` to the nearest at or above `high`."""
    values = sorted({1.0, *RATIOS, *(1 / r for r in RATIOS)})
    start = max((v for v in values if v <= min(low, 1.0 / RATIOS[0])), default=values[0])
    stop = min((v for v in values if v >= max(high, RATIOS[0])), default=values[-1])
    return tuple(v for v in values if start <= v <= stop)


def time_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def ratio_label(ratio: float) -> str:
    return f"{float(f'{ratio:.2g}'):g}x"


def percent(pct: float) -> str:
    return f"{pct:g}%"


def signed_pct(pct: float) -> str:
    return f"{pct:+g}%" if pct else "0%"


def _plain(value: float) -> str:
    return f"{value:g}"


def _number(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}"
