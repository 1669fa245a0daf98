"""The figure's charts as one interactive SVG (pygal), from the same panels as the PNG: hover a bar for its numbers."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pygal
from pygal.style import DefaultStyle

from plotting import panels
from plotting.figures import wrap
from plotting.runs import Run

SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)  # write <svg>, not <ns0:svg>
ET.register_namespace("xlink", XLINK)
CHART_W = 800
WIDTH = 2 * CHART_W  # two charts a row
CHART_ROOM = 200  # pixels of a chart besides its bars: title, value labels, axis label, legend
BAR_H = 18  # pixels of one bar: room for its 11-pixel text
MESSAGE_BARS = 8  # the height, in bars, of a chart that only shows why it has no data
TITLE_PX, SUBTITLE_PX, NOTE_PX = 20, 13, 11  # font sizes: the heading's first line, its others, the footnote
LINE = 1.4  # a line's height over its font size
PAD = 8  # pixels above the heading and below the footnote
CHAR = 0.6  # a character's average width over the font size, to wrap text to the room it has
PALE_STYLE = "opacity: 0.35"  # a bar that shows no difference, as the PNG's (pygal's CSS sets each fill-opacity)


def pygal_chart(panel: panels.Panel, height: int) -> pygal.HorizontalBar:
    style = DefaultStyle(colors=tuple(s.color for s in panel.series), value_font_size=11, tooltip_font_size=12,
                         no_data_font_size=12)
    chart = pygal.HorizontalBar(
        title=panel.title, x_title=panel.axis_label, width=CHART_W, height=height, style=style, print_values=True,
        value_formatter=panel.tick_format, show_legend=len(panel.series) > 1, legend_at_bottom=True,
        truncate_legend=-1, disable_xml_declaration=True, no_data_text=panel.no_data,
        logarithmic=panel.scale == panels.LOG, zero=panel.origin, y_labels=panel.ticks,
        range=panel.ticks and (panel.ticks[0], panel.ticks[-1]),
        # pygal fails on major labels of a chart without data
        y_labels_major=[panel.reference] if panel.reference is not None and panel.has_data else None,
    )
    chart.x_labels = panel.categories[::-1]  # pygal draws the first label at the bottom; the tables read top-down
    for s in panel.series:
        none = [None] * len(s.values)
        chart.add(s.name, [_value(*v) for v in zip(s.values, s.texts, s.tooltips, s.spreads or none,
                                                    s.pale or none)][::-1])
    return chart


def _value(value: float | None, text: str, tooltip: str, spread: tuple[float, float] | None,
           pale: bool | None) -> dict | None:
    """A bar printing the panel's text (not pygal's formatting of the value), with its tooltip and whiskers, pale
    where it shows no difference."""
    if value is None:
        return None
    whiskers = {"ci": {"low": spread[0], "high": spread[1]}} if spread else {}
    return {"value": value, "label": tooltip, "formatter": lambda _: text, **whiskers,
            **({"style": PALE_STYLE} if pale else {})}


def _height(panel: panels.Panel) -> int:
    return CHART_ROOM + BAR_H * (panel.bars if panel.has_data else MESSAGE_BARS)


def _add_native_tooltips(chart: ET.Element) -> None:
    """A <title> per bar, so that any viewer shows the numbers on hover, even without pygal's online script."""
    for bar in chart.iter(f"{{{SVG}}}g"):
        if bar.get("class") == "bar":
            desc = {d.get("class"): d.text for d in bar.findall(f"{{{SVG}}}desc")}
            title = ET.Element(f"{{{SVG}}}title")
            title.text = f"{desc.get('x_label', '')}: {desc.get('label') or desc.get('value', '')}"
            bar.insert(0, title)


def performance_svg(run: Run) -> str:
    """The charts two a row, each row as tall as its charts' bars need, under the heading and over the footnote
    (both wrapped to the width), as one SVG document."""
    charts = panels.performance_panels(run)
    rows = [charts[i:i + 2] for i in range(0, len(charts), 2)]
    heights = [max(map(_height, row)) for row in rows]
    title, *subtitles = panels.heading(run)
    heading = _lines(title, TITLE_PX) + [line for s in subtitles for line in _lines(s, SUBTITLE_PX)]
    note = _lines(panels.footnote(run), NOTE_PX, "#555555")
    height = round(2 * PAD + sum(size * LINE for _, size, _ in heading + note) + sum(heights))
    root = ET.Element(f"{{{SVG}}}svg", width=str(WIDTH), height=str(height), viewBox=f"0 0 {WIDTH} {height}")
    ET.SubElement(root, f"{{{SVG}}}title").text = " · ".join(panels.heading(run))
    y = _write(root, heading, PAD)
    for row, row_height in zip(rows, heights):
        for column, panel in enumerate(row):
            svg = ET.fromstring(pygal_chart(panel, row_height).render(is_unicode=True))
            svg.attrib.update(x=str(column * CHART_W), y=f"{y:g}", width=str(CHART_W), height=str(row_height))
            _add_native_tooltips(svg)
            root.append(svg)
        y += row_height
    _write(root, note, y)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _lines(text: str, size: int, color: str = "#000000") -> list[tuple[str, int, str]]:
    """The text broken at spaces into lines that fit the document's width at this font size."""
    return [(line, size, color) for line in wrap(text, int(WIDTH / (size * CHAR))).split("\n")]


def _write(root: ET.Element, lines: list[tuple[str, int, str]], y: float) -> float:
    """Each line centred below y; returns the y under the last one."""
    for text, size, color in lines:
        y += size * LINE
        style = f"font: {size}px sans-serif; text-anchor: middle; fill: {color}"
        ET.SubElement(root, f"{{{SVG}}}text", x=str(WIDTH // 2), y=f"{y - size * 0.3:g}", style=style).text = text
    return y
