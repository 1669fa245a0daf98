"""The figures as PNG (matplotlib): panels.py's charts as grouped horizontal bars, two a row under a heading."""
from __future__ import annotations

import textwrap

from matplotlib import rc_context
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot/GUI state
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from plotting import panels
from plotting.runs import Run

DPI = 150
TEXT_SIZE = 8  # bar texts, legends, footnote
LABEL_SIZE = TEXT_SIZE + 1
HEADING_SIZE = 12
STYLE = {
    "axes.titlelocation": "left", "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False,
    "axes.labelsize": LABEL_SIZE,
}
TITLE_PAD = 22  # points between a panel's title and its bars: the legend's line, in every panel so that titles align
WIDTH = 15  # inches: two panels a row
BAR = 0.17  # inches of one bar: room for its text
LINE = 1.4  # a line's height over its font size
CHAR = 0.62  # a character's average width over the font size, to wrap text to the room it has
PANEL_ROOM = 1.2  # inches of a panel besides its bars and axis label: title, legend, tick labels
CATEGORY_ROOM = 2.0  # inches of a panel's width taken by the category labels
MESSAGE_BARS = 4  # the height, in bars, of a panel that only shows why it has no data
PALE_ALPHA, PALE_HATCH = 0.35, "////"  # a bar whose difference the rounds do not show: see-through and hatched


def performance_figure(run: Run) -> Figure:
    return panels_figure(panels.performance_panels(run), panels.heading(run), panels.footnote(run))


def panels_figure(charts: list[panels.Panel], lines: list[str], footnote: str = "", columns: int = 2,
                  width: float = WIDTH) -> Figure:
    """The charts `columns` a row, each row as tall as its charts' bars need, under the heading (wrapped to the
    figure's width, never clipped) and over the footnote."""
    label_chars = _chars(width / columns - CATEGORY_ROOM, LABEL_SIZE)
    rows = [charts[i:i + columns] for i in range(0, len(charts), columns)]
    heights = [max(_height(p, label_chars) for p in row) for row in rows]
    title = wrap_heading(lines, width)
    note = wrap(footnote, _chars(width, TEXT_SIZE))
    margins = _inches(title, HEADING_SIZE) + (_inches(note, TEXT_SIZE) if footnote else 0) + 0.3
    with rc_context(STYLE):  # read when each axes and title is made
        fig = Figure(figsize=(width, sum(heights) + margins), layout="constrained")
        grid = fig.add_gridspec(len(rows), columns, height_ratios=heights)
        axes = [fig.add_subplot(grid[i // columns, i % columns]) for i in range(len(charts))]
        fig.suptitle(title, fontsize=HEADING_SIZE)
        if footnote:
            fig.supxlabel(note, fontsize=TEXT_SIZE, color="#555555")
        placed = [(ax, draw(ax, panel, label_chars)) for ax, panel in zip(axes, charts)]
        _fit_texts(fig, placed)
    return fig


def draw(ax, panel: panels.Panel, label_chars: int) -> list[tuple]:
    """One panel on one axes; returns each bar text with the value it is anchored at and whether it reads rightwards."""
    ax.set_title(panel.title, pad=TITLE_PAD)
    ax.set_xlabel(wrap(panel.axis_label, label_chars))
    if not panel.has_data:
        ax.text(0.5, 0.5, wrap(panel.no_data, label_chars), ha="center", va="center", fontsize=10, color="#555555",
                transform=ax.transAxes)
        ax.set_axis_off()
        return []
    ax.set_xscale(panel.scale)
    texts = _bars(ax, panel)
    if panel.ticks:
        low, high = ax.get_xlim()
        ax.set_xlim(min(low, panel.ticks[0]), max(high, panel.ticks[-1]))
        ax.xaxis.set_major_locator(FixedLocator(panel.ticks))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: panel.tick_format(x)))
    if panel.reference is not None:
        ax.axvline(panel.reference, color="#333333", linewidth=1)
    if len(panel.series) > 1:  # in TITLE_PAD: never over the title or a bar; the full colour, though a bar is pale
        handles = [Patch(color=s.color, label=s.name) for s in panel.series]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1), ncols=len(panel.series), frameon=False,
                  fontsize=TEXT_SIZE, borderaxespad=0.2)
    return texts


def _bars(ax, panel: panels.Panel) -> list[tuple]:
    """Grouped horizontal bars, first category on top, each with its text past its end (an unmeasured one: at the
    origin) and its spread as whiskers."""
    height = 0.8 / len(panel.series)
    texts = []
    for i, s in enumerate(panel.series):
        ys = [y - 0.4 + height * (i + 0.5) for y in range(len(panel.categories))]
        shown = [(y, v, p) for y, v, p in zip(ys, s.values, s.pale or [False] * len(ys)) if v is not None]
        bars = ax.barh([y for y, _, _ in shown], [v - panel.origin for _, v, _ in shown], height, left=panel.origin,
                       color=s.color, label=s.name)
        for bar, (_, _, pale) in zip(bars, shown):
            if pale:
                bar.set(alpha=PALE_ALPHA, hatch=PALE_HATCH, edgecolor=s.color, linewidth=0)
        for y, v, text, spread in zip(ys, s.values, s.texts, s.spreads or [None] * len(ys)):
            v = panel.origin if v is None else v
            low, high = spread or (v, v)
            if spread:  # an interval need not be centred on the bar's value: drawn from its midpoint
                ax.errorbar((low + high) / 2, y, xerr=(high - low) / 2, fmt="none", ecolor="#333333", elinewidth=1,
                            capsize=3)
            right = v >= panel.origin
            end = high if right else low
            label = ax.annotate(text, (end, y), xytext=(4 if right else -4, 0), textcoords="offset points",
                                ha="left" if right else "right", va="center", fontsize=TEXT_SIZE)
            texts.append((label, end, right))
    ax.set_yticks(range(len(panel.categories)), panel.categories)
    ax.set_ylim(len(panel.categories) - 0.5, -0.5)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    return texts


def _fit_texts(fig: Figure, placed: list[tuple]) -> None:
    """Widen each value axis until every bar's text lies inside its panel; how wide a text is against its panel is
    only known once the layout has sized them, hence after a draw."""
    fig.draw_without_rendering()
    for ax, texts in placed:
        if not texts:
            continue
        scale, room = ax.xaxis.get_transform(), ax.bbox.width
        s0, s1 = scale.transform(list(ax.get_xlim()))
        needs = [(scale.transform([end])[0], min(t.get_window_extent().width + 12, room / 2), right)
                 for t, end, right in texts]
        for _ in range(4):  # widening one side moves the texts of the other: a few rounds settle both
            s1 = max([s1, *(s0 + (at - s0) * room / (room - w) for at, w, right in needs if right)])
            s0 = min([s0, *(s1 - (s1 - at) * room / (room - w) for at, w, right in needs if not right)])
        ax.set_xlim(*scale.inverted().transform([s0, s1]))


def _height(panel: panels.Panel, label_chars: int) -> float:
    bars = panel.bars if panel.has_data else MESSAGE_BARS
    return PANEL_ROOM + _inches(wrap(panel.axis_label, label_chars), LABEL_SIZE) + bars * BAR / 0.8


def wrap_heading(lines: list[str], width: float) -> str:
    """A figure's heading, wrapped to its width in inches."""
    return wrap("\n".join(lines), _chars(width, HEADING_SIZE))


def wrap(text: str, chars: int) -> str:
    """Every line of text broken at spaces to at most `chars` characters."""
    parts = (textwrap.wrap(line, chars, break_on_hyphens=False) or [""] for line in text.split("\n"))
    return "\n".join(part for lines in parts for part in lines)


def _chars(inches: float, points: float) -> int:
    return int(inches * 72 / (points * CHAR))


def _inches(text: str, points: float) -> float:
    """The height of the text's lines."""
    return (text.count("\n") + 1) * points * LINE / 72
