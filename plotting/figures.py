"""The seed's four panels with matplotlib (save time, load time, size on disk, improvement vs the baseline),
then efficiency vs the disk ceiling and peak memory."""
from __future__ import annotations

from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot/GUI state
from matplotlib.ticker import StrMethodFormatter

from bench.methods import BASELINE
from plotting import analysis
from plotting.runs import GROUPS, LOAD_COLD, LOAD_WARM, SAVE, Run
from plotting.tables import (
    EFFICIENCY_NOTE, FLAG, NA, NO_BASELINE, NO_CEILING, NO_PEAKS, NO_SIZES, baseline_label, ceiling_line,
    fmt_efficiency, fmt_pct, headline, ms_format,
)

COLORS = {SAVE: "#4C72B0", LOAD_COLD: "#DD8452", LOAD_WARM: "#F3BE94", "size": "#55A868"}
CUDA_COLORS = {SAVE: "#8172B3", LOAD_COLD: "#C44E52", LOAD_WARM: "#E6A0A2"}  # beside COLORS' RSS bars
SERIES_NAMES = {SAVE: "save", LOAD_COLD: "load (cold)", LOAD_WARM: "load (warm)"}
TEXT_SIZE = 8
DPI = 150
STYLE = {"axes.titlelocation": "left", "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False}


@dataclass(frozen=True)
class Series:
    """One colour of bars: a value per category (None: not measured), its label and optional spread."""

    name: str
    color: str
    values: list[float | None]
    texts: list[str]
    spreads: list[tuple[float, float] | None] | None = None


def barh(ax, categories: list[str], series: list[Series], origin: float = 0.0) -> None:
    """Grouped horizontal bars, first category on top, each bar labelled with its text past its end."""
    height = 0.8 / len(series)
    for i, s in enumerate(series):
        ys = [y - 0.4 + height * (i + 0.5) for y in range(len(categories))]
        shown = [(y, v) for y, v in zip(ys, s.values) if v is not None]
        ax.barh([y for y, _ in shown], [v - origin for _, v in shown], height, left=origin, color=s.color, label=s.name)
        for y, v, text, spread in zip(ys, s.values, s.texts, s.spreads or [None] * len(ys)):
            v = origin if v is None else v  # an unmeasured bar: just its "n/a" text at the origin
            low, high = spread or (v, v)
            if spread:
                ax.errorbar(v, y, xerr=[[v - low], [high - v]], fmt="none", ecolor="#333333", elinewidth=1, capsize=3)
            right = v >= origin
            ax.annotate(text, (high if right else low, y), xytext=(4 if right else -4, 0), textcoords="offset points",
                        ha="left" if right else "right", va="center", fontsize=TEXT_SIZE)
    ax.set_yticks(range(len(categories)), categories)
    ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.margins(x=0.2)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def method_labels(run: Run) -> list[str]:
    return [run.label(m) + (" (baseline)" if m == BASELINE else "") for m in run.methods]


def _time_series(run: Run, group: str, name: str) -> Series:
    ms = ms_format(run)
    stats = [run.get(group, m) for m in run.methods]
    return Series(
        name,
        COLORS[group],
        [s.median * 1000 if s else None for s in stats],
        [ms(s.median if s else None) + (f" {FLAG}" if analysis.noisy(s) else "") for s in stats],
        [(s.low * 1000, s.high * 1000) if s and s.spread else None for s in stats],
    )


def _legend(ax) -> None:
    """Above the plot, right of the (left-aligned) title: never over a bar."""
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, frameon=False, fontsize=TEXT_SIZE)


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, color="#555555", transform=ax.transAxes)
    ax.set_axis_off()


def performance_figure(run: Run) -> Figure:
    with rc_context(STYLE):  # read when each axes and title is made
        fig = Figure(figsize=(15, 14), layout="constrained")
        ax_save, ax_load, ax_size, ax_imp, ax_eff, ax_mem = fig.subplots(3, 2).flat
        labels = method_labels(run)
        _save_panel(ax_save, run, labels)
        _load_panel(ax_load, run, labels)
        _size_panel(ax_size, run, labels)
        _improvement_panel(ax_imp, run)
        _efficiency_panel(ax_eff, run, labels)
        _memory_panel(ax_mem, run, labels)
        fig.suptitle(f"Checkpoint save and load: {len(run.methods)} methods\n{headline(run)}", fontsize=13)
        fig.supxlabel(_footnote(run), fontsize=TEXT_SIZE, color="#555555")
    return fig


def _save_panel(ax, run: Run, labels: list[str]) -> None:
    barh(ax, labels, [_time_series(run, SAVE, "save")])
    ax.set(title="Save time", xlabel="median time per save (ms)")
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))


def _load_panel(ax, run: Run, labels: list[str]) -> None:
    series = [_time_series(run, LOAD_COLD, "cold: page cache evicted")]
    if run.has(LOAD_WARM):
        series.append(_time_series(run, LOAD_WARM, "warm: in page cache"))
    barh(ax, labels, series)
    ax.set(title="Load time", xlabel="median time per load (ms)")
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,g}"))
    _legend(ax)


def _size_panel(ax, run: Run, labels: list[str]) -> None:
    ax.set_title("Size on disk")
    sizes = [analysis.disk_bytes(run, m) for m in run.methods]
    if all(b is None for b in sizes):
        return _message(ax, f"{NA}: {NO_SIZES}")
    unit, div = analysis.size_unit(b for b in sizes if b is not None)
    values = [None if b is None else b / div for b in sizes]
    barh(ax, labels, [Series("size", COLORS["size"], values, [NA if v is None else f"{v:.2f}" for v in values])])
    ax.set_xlabel(f"size on disk ({unit}, allocated blocks)")


def _improvement_panel(ax, run: Run) -> None:
    base = baseline_label(run)
    ax.set_title(f"Improvement vs {base} baseline")
    others, improvements = analysis.improvement_series(run)
    if not others:
        return _message(ax, f"{NA}: {NO_BASELINE}")
    series = [Series(SERIES_NAMES[g], COLORS[g], values, [fmt_pct(v) for v in values]) for g, values in improvements]
    barh(ax, [run.label(m) for m in others], series)
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_xlabel(f"% less time than {base} (positive = faster)")
    _legend(ax)


def _efficiency_panel(ax, run: Run, labels: list[str]) -> None:
    ax.set_title("Efficiency vs the disk ceiling")
    if not run.ceiling:
        return _message(ax, f"{NA}: {NO_CEILING}")
    series = []
    for group in (g for g in GROUPS if run.has(g)):
        values = [analysis.efficiency(run, group, m) for m in run.methods]
        pcts = [None if v is None else v * 100 for v in values]
        series.append(Series(SERIES_NAMES[group], COLORS[group], pcts, [fmt_efficiency(v) for v in values]))
    barh(ax, labels, series)
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}%"))
    ceiling = ceiling_line(run).replace(": ", ":\n", 1)  # the times on a line of their own: the panel is narrow
    ax.set_xlabel(f"{EFFICIENCY_NOTE}\n{ceiling}", fontsize=TEXT_SIZE + 1)
    _legend(ax)


def _memory_panel(ax, run: Run, labels: list[str]) -> None:
    ax.set_title("Peak memory per operation")
    if not analysis.peak_keys(run):
        return _message(ax, f"{NA}: {NO_PEAKS}")
    unit, div, peaks = analysis.peak_series(run)
    series = []
    for name, group, peak_bytes in peaks:
        values = [None if b is None else b / div for b in peak_bytes]
        color = (CUDA_COLORS if name == "CUDA" else COLORS)[group]
        texts = [NA if v is None else f"{v:.2f}" for v in values]
        series.append(Series(f"{SERIES_NAMES[group]} {name}", color, values, texts))
    barh(ax, labels, series)
    ax.set_xlabel(f"peak above the level before the operation ({unit}), one untimed round")
    _legend(ax)


def _footnote(run: Run) -> str:
    spreads = sorted({s.spread for s in run.stats.values() if s.spread})
    whiskers = f"; whiskers: {' or '.join(spreads)} of the rounds" if spreads else ""
    flag = f"; {FLAG}: the rounds' IQR is over {analysis.NOISY:.0%} of their median"
    return f"bars: medians of the rounds{whiskers}{flag}; load-cold: page cache evicted before every round"
