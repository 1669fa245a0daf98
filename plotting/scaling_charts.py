"""The scaling report's charts as data, built once: scaling_render.py draws them with matplotlib (PNG) and pygal (SVG),
so both show the same titles, axes, series and numbers. Lines on log-log axes, where ideal scaling is a straight line:
throughput against ranks, one line per method, the disk ceiling and, dashed, ideal linear scaling."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from plotting.panels import log_ticks
from plotting.scaling import CEILING_NAME, OPS, Scaling, fmt_gbps, headline, notes
from runschema import CEILING, CEILING_OPS, LOAD_COLD, SAVE

SOLID, DOTTED, DASHED = "solid", "dotted", "dashed"  # a method, the disk ceiling, ideal scaling
# matplotlib's tab10 without its grey (the ceiling's), then tab20b's darkest: 14 methods, 14 colours
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
          "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
CEILING_COLOR = "#333333"
TITLES = {SAVE: "Save throughput", LOAD_COLD: "Cold-load throughput"}
X_LABEL = "ranks (world size, log scale)"
Y_LABEL = "GB/s: checkpoint bytes / median time (log scale)"
IDEAL = "(ideal)"  # after the method's name
MARGIN = 1.25  # the value axis reaches this factor past the extreme values


@dataclass(frozen=True)
class LineSeries:
    """One line: (ranks, GB/s) points in ascending ranks, and each point's tooltip."""

    name: str
    color: str
    points: tuple[tuple[float, float], ...]
    tooltips: tuple[str, ...]
    style: str = SOLID

    @property
    def markers(self) -> bool:
        return self.style != DASHED  # measured points; the ideal line is computed


@dataclass(frozen=True)
class LineChart:
    title: str
    x_label: str
    y_label: str
    series: tuple[LineSeries, ...]
    x_ticks: tuple[float, ...]  # the world sizes
    y_ticks: tuple[float, ...]
    x_format: Callable[[float], str]
    y_format: Callable[[float], str]
    no_data: str = "no data"

    @property
    def has_data(self) -> bool:
        return any(p for s in self.series for p in s.points)


def charts(scaling: Scaling) -> list[LineChart]:
    return [chart(scaling, group) for group in OPS]


def heading(scaling: Scaling) -> list[str]:
    return [f"Checkpoint scaling: {len(scaling.methods)} methods, save and cold load against the number of ranks",
            headline(scaling)]


def footnote(scaling: Scaling) -> str:
    return "; ".join([
        "throughput: the whole checkpoint's logical bytes / median time (GB/s = 10^9 bytes/s)",
        *(["dashed: ideal linear scaling from each method's smallest world size"] if len(scaling.world_sizes) > 1
          else []),
        f"dotted: {CEILING_NAME}, every rank writing (save) or reading cold (load) its share of the bytes at once",
        *notes(scaling),
    ])


def chart(scaling: Scaling, group: str) -> LineChart:
    """Each method's line followed by its ideal (same colour, dashed), then the disk ceiling's."""
    sizes, op = scaling.world_sizes, CEILING_OPS[group]
    series = []
    for i, method in enumerate(scaling.methods):
        line = _measured(scaling, group, method, COLORS[i % len(COLORS)], scaling.label(method))
        series += [line, *_ideal(line, sizes)] if line.points else []
    ceiling = _measured(scaling, CEILING, op, CEILING_COLOR, f"{CEILING_NAME} ({op})", DOTTED)
    series += [ceiling] if ceiling.points else []
    values = [y for s in series for _, y in s.points]
    ticks = log_ticks(min(values) / MARGIN, max(values) * MARGIN) if values else ()
    return LineChart(TITLES[group], X_LABEL, Y_LABEL, tuple(series), sizes, ticks, _plain, _plain,
                     f"no {group} throughput: the runs store no logical_bytes")


def _measured(scaling: Scaling, group: str, key: str, color: str, label: str, style: str = SOLID) -> LineSeries:
    points, tips = [], []
    for w in scaling.world_sizes:
        if (gbps := scaling.gbps(group, key, w)) is not None:
            speedup = f", {scaling.speedup(group, key, w):.2f}x its {_ranks_text(points[0][0])}" if points else ""
            points.append((w, gbps))
            tips.append(f"{label}, {_ranks_text(w)}: {fmt_gbps(gbps)} GB/s{speedup}")
    return LineSeries(label, color, tuple(points), tuple(tips), style)


def _ideal(line: LineSeries, sizes: tuple[int, ...]) -> list[LineSeries]:
    """From the method's first measured point, throughput growing as the ranks, over every larger world size."""
    w0, t0 = line.points[0]
    points = tuple((w, t0 * w / w0) for w in sizes if w >= w0)
    tips = tuple(f"{line.name}, ideal at {_ranks_text(w)}: {fmt_gbps(t)} GB/s ({w / w0:g}x)" for w, t in points)
    return [LineSeries(f"{line.name} {IDEAL}", line.color, points, tips, DASHED)] if len(points) > 1 else []


def _ranks_text(n: int) -> str:
    return f"{n} rank{'s' * (n != 1)}"


def _plain(value: float) -> str:
    return f"{value:g}"
