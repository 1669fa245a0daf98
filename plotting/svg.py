"""The figure's six charts as one interactive SVG (pygal): hover a bar for its numbers."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pygal
from pygal.style import DefaultStyle

from bench.methods import BASELINE
from plotting import analysis
from plotting.figures import COLORS, CUDA_COLORS, SERIES_NAMES, method_labels
from plotting.runs import GROUPS, LOAD_COLD, LOAD_WARM, SAVE, Run
from plotting.tables import (
    EFFICIENCY_NOTE, FLAG, NA, NO_BASELINE, NO_CEILING, NO_PEAKS, NO_SIZES, baseline_label, ceiling_line,
    fmt_efficiency, fmt_pct, headline, ms_format,
)

SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)  # write <svg>, not <ns0:svg>
ET.register_namespace("xlink", XLINK)
CHART_W, CHART_H, TITLE_H = 800, 480, 70


def _chart(title: str, x_title: str, labels: list[str], series: list[tuple[str, str, list]], formatter,
           no_data: str = "No data") -> pygal.HorizontalBar:
    """series: (name, colour, one value per label); a value is None or {"value": ..., "label": tooltip text}."""
    style = DefaultStyle(colors=tuple(color for _, color, _ in series), value_font_size=11, tooltip_font_size=12)
    chart = pygal.HorizontalBar(
        title=title, x_title=x_title, width=CHART_W, height=CHART_H, style=style, print_values=True,
        value_formatter=formatter, legend_at_bottom=True, disable_xml_declaration=True, no_data_text=no_data,
    )
    chart.x_labels = labels[::-1]  # pygal draws the first label at the bottom; the tables read top-down
    for name, _, values in series:
        chart.add(name, values[::-1])
    return chart


def _times(run: Run, group: str) -> tuple[str, str, list]:
    ms = ms_format(run)
    values = []
    for m in run.methods:
        stat = run.get(group, m)
        if stat is None:
            values.append(None)
            continue
        spread = f", {stat.spread} {ms(stat.low)} to {ms(stat.high)} ms" if stat.spread else ""
        rounds = f", {stat.rounds} rounds" if stat.rounds else ""
        flag = f" {FLAG} IQR {stat.relative_iqr:.0%} of the median" if analysis.noisy(stat) else ""
        label = f"{group}: median {ms(stat.median)} ms{spread}{rounds}{flag}"
        values.append({"value": stat.median * 1000, "label": label})
    return group, COLORS[group], values


def _time_chart(run: Run, title: str, x_title: str, groups: tuple[str, ...]) -> pygal.HorizontalBar:
    ms = ms_format(run)
    series = [_times(run, g) for g in groups if run.has(g)]
    return _chart(title, x_title, method_labels(run), series, lambda v: ms(v / 1000))


def _size_chart(run: Run) -> pygal.HorizontalBar:
    sizes = [analysis.disk_bytes(run, m) for m in run.methods]
    unit, div = analysis.size_unit(b for b in sizes if b is not None)
    values = [None if b is None else {"value": b / div, "label": f"{b:,} bytes on disk"} for b in sizes]
    return _chart("Size on disk", f"size on disk ({unit})", method_labels(run), [("size", COLORS["size"], values)],
                  lambda v: f"{v:.2f} {unit}", no_data=f"{NA}: {NO_SIZES}")


def _improvement_chart(run: Run) -> pygal.HorizontalBar:
    others, improvements = analysis.improvement_series(run)
    series = []
    for group, pcts in improvements:
        name = SERIES_NAMES[group]
        values = [None if p is None else {"value": p, "label": f"{name} {fmt_pct(p)} vs {BASELINE}"} for p in pcts]
        series.append((name, COLORS[group], values))
    return _chart(f"Improvement vs {baseline_label(run)} baseline", f"% less time than {BASELINE} (positive = faster)",
                  [run.label(m) for m in others], series, fmt_pct, no_data=f"{NA}: {NO_BASELINE}")


def _efficiency_chart(run: Run) -> pygal.HorizontalBar:
    series = []
    for group in (g for g in GROUPS if run.has(g) and run.ceiling):
        effs = [analysis.efficiency(run, group, m) for m in run.methods]
        values = [None if e is None else {"value": e * 100, "label": f"{group}: {fmt_efficiency(e)}"} for e in effs]
        series.append((SERIES_NAMES[group], COLORS[group], values))
    title = "Efficiency vs the disk ceiling" + (f"\n{ceiling_line(run)}" if run.ceiling else "")
    return _chart(title, EFFICIENCY_NOTE, method_labels(run), series, lambda v: f"{v:.1f}%",
                  no_data=f"{NA}: {NO_CEILING}")


def _memory_chart(run: Run) -> pygal.HorizontalBar:
    unit, div, peaks = analysis.peak_series(run)
    series = [
        (f"{SERIES_NAMES[g]} {name}", (CUDA_COLORS if name == "CUDA" else COLORS)[g],
         [None if b is None else {"value": b / div, "label": f"{g} {name}: {b:,} bytes"} for b in values])
        for name, g, values in peaks
    ]
    return _chart("Peak memory per operation", f"peak above the level before the operation ({unit})",
                  method_labels(run), series, lambda v: f"{v:.2f} {unit}", no_data=f"{NA}: {NO_PEAKS}")


def charts(run: Run) -> list[pygal.HorizontalBar]:
    """The figure's panels: save time, load time, size on disk, improvement vs the baseline, efficiency, memory."""
    return [
        _time_chart(run, "Save time", "median time per save (ms)", (SAVE,)),
        _time_chart(run, "Load time", "median time per load (ms)", (LOAD_COLD, LOAD_WARM)),
        _size_chart(run),
        _improvement_chart(run),
        _efficiency_chart(run),
        _memory_chart(run),
    ]


def _add_native_tooltips(chart: ET.Element) -> None:
    """A <title> per bar, so that any viewer shows the numbers on hover, even without pygal's online script."""
    for bar in chart.iter(f"{{{SVG}}}g"):
        if bar.get("class") == "bar":
            desc = {d.get("class"): d.text for d in bar.findall(f"{{{SVG}}}desc")}
            title = ET.Element(f"{{{SVG}}}title")
            title.text = f"{desc.get('x_label', '')}: {desc.get('label') or desc.get('value', '')}"
            bar.insert(0, title)


def performance_svg(run: Run) -> str:
    """The charts two per row under a two-line heading, as one SVG document."""
    all_charts = charts(run)
    width, height = 2 * CHART_W, (len(all_charts) + 1) // 2 * CHART_H + TITLE_H
    root = ET.Element(f"{{{SVG}}}svg", width=str(width), height=str(height), viewBox=f"0 0 {width} {height}")
    heading = (f"Checkpoint save and load: {len(run.methods)} methods", headline(run))
    ET.SubElement(root, f"{{{SVG}}}title").text = " · ".join(heading)
    for text, y, size in zip(heading, (30, 56), (20, 13)):
        style = f"font: {size}px sans-serif; text-anchor: middle"
        ET.SubElement(root, f"{{{SVG}}}text", x=str(width // 2), y=str(y), style=style).text = text
    for i, chart in enumerate(all_charts):
        svg = ET.fromstring(chart.render(is_unicode=True))
        x, y = i % 2 * CHART_W, TITLE_H + i // 2 * CHART_H
        svg.attrib.update(x=str(x), y=str(y), width=str(CHART_W), height=str(CHART_H))
        _add_native_tooltips(svg)
        root.append(svg)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
