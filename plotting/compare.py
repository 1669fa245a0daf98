"""Two runs side by side (before/after a change, fsync vs none, CPU vs CUDA, two machines): B/A of the medians."""
from __future__ import annotations

from matplotlib.figure import Figure

from plotting import figures
from plotting.analysis import NOISY, median, noisy
from plotting.context import context
from plotting.panels import COLORS, LOG, SERIES_NAMES, Panel, PanelSeries, ratio_label, ratio_ticks
from plotting.runs import IQR, Run, RunError, check_same_generation
from plotting.tables import FLAG, NA, Table, fmt_spread, ms_format
from runschema import GROUPS


def check_comparable(a: Run, b: Run) -> None:
    check_same_generation(a, b)
    model_a, model_b = a.workload.get("model"), b.workload.get("model")
    if model_a and model_b and model_a != model_b:
        raise RunError(
            f"{b.source} measured model {model_b!r} but {a.source} measured {model_a!r}; "
            f"B/A ratios need two runs of the same model"
        )


IDENTITY = ("commit", "date")  # every run differs here: not worth a line


def differences(a: Run, b: Run) -> str:
    ca, cb = ({k: v for k, v in context(r).items() if k not in IDENTITY} for r in (a, b))
    changed = [f"{k} {ca.get(k, NA)} -> {cb.get(k, NA)}" for k in dict.fromkeys([*ca, *cb]) if ca.get(k) != cb.get(k)]
    return "; ".join(changed) or "nothing recorded differs (same workload, machine and versions)"


def methods(a: Run, b: Run) -> list[str]:
    return list(dict.fromkeys([*a.methods, *b.methods]))


def ratio(a: Run, b: Run, group: str, method: str) -> float | None:
    ma, mb = median(a, group, method), median(b, group, method)
    return mb / ma if ma and mb else None


def fmt_ratio(r: float | None) -> str:
    return NA if r is None else f"{r:.2f}x"


def operations(a: Run, b: Run) -> list[str]:
    return [g for g in GROUPS if a.has(g) and b.has(g)]


def ratio_range(a: Run, b: Run, group: str, method: str) -> tuple[float, float] | None:
    """The B/A that the two runs' interquartile ranges allow: B's first quartile over A's third, B's third over A's
    first. A range that spans 1 means the rounds do not tell the two apart."""
    sa, sb = a.get(group, method), b.get(group, method)
    if not (sa and sb and sa.spread == sb.spread == IQR and sa.low and sa.high):
        return None
    return sb.low / sa.high, sb.high / sa.low


def fmt_range(r: tuple[float, float] | None) -> str:
    return NA if r is None else f"{r[0]:.2f}-{r[1]:.2f}x"


def compare_table(a: Run, b: Run) -> Table:
    ms = ms_format(a, b)
    rows = tuple(
        (m, g, ms(median(a, g, m)), fmt_spread(a.get(g, m)), ms(median(b, g, m)), fmt_spread(b.get(g, m)),
         fmt_ratio(ratio(a, b, g, m)) + (f" {FLAG}" if noisy(a.get(g, m)) or noisy(b.get(g, m)) else ""),
         fmt_range(ratio_range(a, b, g, m)))
        for g in operations(a, b)
        for m in methods(a, b)
    )
    note = (f"B/A: B's median time over A's; below 1 B is faster, above 1 B is slower. IQR: the rounds' interquartile "
            f"range / median; {FLAG}: A's or B's IQR is over {NOISY:.0%}, so the ratio is uncertain; range: B/A from "
            f"the quartiles (B's Q1 / A's Q3 to B's Q3 / A's Q1): one that spans 1x does not tell A and B apart")
    header = ("method", "operation", "A (ms)", "A IQR", "B (ms)", "B IQR", "B/A", "B/A range")
    return Table("B/A per method and operation", header, rows, note, left=(0, 1))


def compare_text(a: Run, b: Run) -> str:
    return f"A: {a.source}\nB: {b.source}\ndiffers: {differences(a, b)}\n\n{compare_table(a, b).text()}\n"


def heading(a: Run, b: Run) -> list[str]:
    return [f"A: {a.file_names}", f"B: {b.file_names}", f"differs: {differences(a, b)}"]


def panel(a: Run, b: Run) -> Panel:
    """B/A of the medians per method, one series per operation both runs measured, on a log axis around 1x."""
    names = methods(a, b)
    ms = ms_format(a, b)
    series = []
    for g in operations(a, b):
        ratios = tuple(ratio(a, b, g, m) for m in names)
        tooltips = tuple(
            f"{SERIES_NAMES[g]}: A {ms(median(a, g, m))} ms, B {ms(median(b, g, m))} ms"
            for m in names
        )
        series.append(PanelSeries(SERIES_NAMES[g], COLORS[g], ratios, tuple(map(fmt_ratio, ratios)), tooltips))
    found = [r for s in series for r in s.values if r is not None]
    return Panel(
        "B/A per method and operation",
        "B/A of the median time (log scale): below 1x B is faster, above 1x B is slower",
        tuple((a if m in a.methods else b).label(m) for m in names), tuple(series), ratio_label, LOG,
        ratio_ticks(min(found, default=1.0), max(found, default=1.0)), origin=1.0, reference=1.0,
        no_data=f"{NA}: the runs share no method and operation",
    )


def compare_figure(a: Run, b: Run) -> Figure:
    return figures.panels_figure([panel(a, b)], heading(a, b), columns=1, width=11)
