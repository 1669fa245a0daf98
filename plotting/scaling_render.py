"""scaling_charts.py's line charts drawn twice: as scaling.png (matplotlib) and as one interactive SVG (pygal), side by
side under the heading and over the footnote."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pygal
from matplotlib import rc_context
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot/GUI state
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from pygal.style import DefaultStyle

from plotting import scaling_charts as sc
from plotting.figures import HEADING_SIZE, LINE, STYLE, TEXT_SIZE, _chars, wrap, wrap_heading
from plotting.scaling import Scaling
from plotting.svg import CHART_W, NOTE_PX, PAD, SUBTITLE_PX, SVG, TITLE_PX, WIDTH as SVG_WIDTH, _lines, _write
from plotting.svg import LINE as SVG_LINE

WIDTH, PLOT_HEIGHT = 14, 4.6  # inches: the figure's width, a chart's plotting area with its axis labels
LEGEND_ROW = 0.17  # inches of one legend entry: the legend is one column right of its chart, each method by its ideal
STYLES = {sc.SOLID: "-", sc.DOTTED: ":", sc.DASHED: "--"}
DASHES = {sc.DOTTED: "2,4", sc.DASHED: "7,5"}  # SVG stroke-dasharray
CHART_H, LEGEND_H, CHART_ROOM = 460, 21, 110  # pixels: a chart, one legend entry, a chart besides its legend
TOP = 1.02  # pygal leaves out a y label at the very top of the plot: room above the last tick


def _legend_rows(charts: list[sc.LineChart]) -> int:
    return max(len(c.series) for c in charts)


def scaling_figure(scaling: Scaling) -> Figure:
    """The charts side by side, each with its legend at its right."""
    charts = sc.charts(scaling)
    title = wrap_heading(sc.heading(scaling), WIDTH)
    note = wrap(sc.footnote(scaling), _chars(WIDTH, TEXT_SIZE))
    lines = title.count("\n") + 1, note.count("\n") + 1
    texts = (lines[0] * HEADING_SIZE + lines[1] * TEXT_SIZE) * LINE / 72
    height = max(PLOT_HEIGHT, _legend_rows(charts) * LEGEND_ROW + 1) + texts + 0.5
    with rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, height), layout="constrained")
        axes = fig.subplots(1, len(charts))
        fig.suptitle(title, fontsize=HEADING_SIZE)
        fig.supxlabel(note, fontsize=TEXT_SIZE, color="#555555")
        for ax, chart in zip(axes, charts):
            draw(ax, chart)
    return fig


def draw(ax, chart: sc.LineChart) -> None:
    ax.set_title(chart.title)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    if not chart.has_data:
        ax.text(0.5, 0.5, chart.no_data, ha="center", va="center", fontsize=10, color="#555555", transform=ax.transAxes)
        ax.set_axis_off()
        return
    for s in chart.series:
        xs, ys = zip(*s.points)
        ax.plot(xs, ys, STYLES[s.style], color=s.color, label=s.name, linewidth=1.2 if s.style == sc.DASHED else 1.8,
                marker="o" if s.markers else None, markersize=4)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    for axis, ticks, fmt in ((ax.xaxis, chart.x_ticks, chart.x_format), (ax.yaxis, chart.y_ticks, chart.y_format)):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _, fmt=fmt: fmt(v)))
    ax.set_xlim(chart.x_ticks[0] / 1.3, chart.x_ticks[-1] * 1.3)
    ax.set_ylim(chart.y_ticks[0], chart.y_ticks[-1])
    ax.grid(color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=TEXT_SIZE, borderaxespad=0)


def pygal_chart(chart: sc.LineChart, height: int) -> pygal.XY:
    style = DefaultStyle(colors=tuple(s.color for s in chart.series), tooltip_font_size=12, no_data_font_size=12)
    ticks = chart.has_data and {"x_labels": chart.x_ticks, "y_labels": chart.y_ticks,
                                "xrange": (chart.x_ticks[0] / 1.3, chart.x_ticks[-1] * 1.3),
                                "range": (chart.y_ticks[0], chart.y_ticks[-1] * TOP)}
    xy = pygal.XY(
        title=chart.title, x_title=chart.x_label, y_title=chart.y_label, width=CHART_W, height=height, style=style,
        logarithmic=True, x_value_formatter=chart.x_format, value_formatter=chart.y_format, truncate_legend=-1,
        dots_size=3, disable_xml_declaration=True, no_data_text=chart.no_data, **(ticks or {}),
    )
    for s in chart.series:
        values = [{"value": p, "label": tip} for p, tip in zip(s.points, s.tooltips)]
        dash = {"dasharray": DASHES[s.style]} if s.style in DASHES else {}
        xy.add(s.name, values, show_dots=s.markers, stroke_style={"width": 1.5 if s.markers else 1, **dash})
    return xy


def _add_native_tooltips(chart: ET.Element) -> None:
    """A <title> per point, so that any viewer shows the numbers on hover, even without pygal's online script."""
    for dot in chart.iter(f"{{{SVG}}}g"):
        if dot.get("class") == "dots" and (label := dot.find(f"{{{SVG}}}desc[@class='label']")) is not None:
            ET.SubElement(dot, f"{{{SVG}}}title").text = label.text


def scaling_svg(scaling: Scaling) -> str:
    """The charts side by side under the heading and over the footnote (both wrapped), as one SVG document."""
    charts = sc.charts(scaling)
    chart_height = max(CHART_H, CHART_ROOM + _legend_rows(charts) * LEGEND_H)
    title, *subtitles = sc.heading(scaling)
    heading = _lines(title, TITLE_PX) + [line for s in subtitles for line in _lines(s, SUBTITLE_PX)]
    note = _lines(sc.footnote(scaling), NOTE_PX, "#555555")
    height = round(2 * PAD + sum(size * SVG_LINE for _, size, _ in heading + note) + chart_height)
    root = ET.Element(f"{{{SVG}}}svg", width=str(SVG_WIDTH), height=str(height), viewBox=f"0 0 {SVG_WIDTH} {height}")
    ET.SubElement(root, f"{{{SVG}}}title").text = " · ".join(sc.heading(scaling))
    y = _write(root, heading, PAD)
    for column, chart in enumerate(charts):
        svg = ET.fromstring(pygal_chart(chart, chart_height).render(is_unicode=True))
        svg.attrib.update(x=str(column * CHART_W), y=f"{y:g}", width=str(CHART_W), height=str(chart_height))
        _add_native_tooltips(svg)
        root.append(svg)
    _write(root, note, y + chart_height)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
