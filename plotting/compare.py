"""Two runs side by side (before/after a change, fsync vs none, CPU vs CUDA, two machines): B/A of the medians, with
its interval and verdict (plotting.verdicts, unpaired)."""
from __future__ import annotations

from matplotlib.figure import Figure

from plotting import figures
from plotting.analysis import NOISY, median, noisy
from plotting.context import context
from plotting.panels import (
    COLORS, LOG, SERIES_NAMES, Panel, PanelSeries, bar_ends, pale, pale_note, ratio_label, ratio_ticks,
)
from plotting.runs import Run, RunError, check_same_generation
from plotting.tables import FLAG, NA, Table, fmt_spread, ms_format
from plotting.verdicts import CONFIDENCE, RULE, WORDS, Ratio, compare, fmt_ci, fmt_ratio_ci
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


def change(a: Run, b: Run, group: str, method: str) -> Ratio | None:
    """B's time over A's, with its interval and verdict: unpaired, since the rounds of two runs never ran together."""
    return compare(b.get(group, method), a.get(group, method), pair=False)


def ratio(a: Run, b: Run, group: str, method: str) -> float | None:
    r = change(a, b, group, method)
    return None if r is None else r.ratio


def fmt_ratio(r: float | None) -> str:
    return NA if r is None else f"{r:.2f}x"


def operations(a: Run, b: Run) -> list[str]:
    return [g for g in GROUPS if a.has(g) and b.has(g)]


def compare_table(a: Run, b: Run) -> Table:
    ms = ms_format(a, b)

    def cells(g: str, m: str) -> tuple[str, ...]:
        r = change(a, b, g, m)
        flag = f" {FLAG}" if noisy(a.get(g, m)) or noisy(b.get(g, m)) else ""
        judged = (NA, NA, NA) if r is None else (fmt_ratio(r.ratio) + flag, fmt_ci(r) or NA, WORDS[r.verdict])
        return (m, g, ms(median(a, g, m)), fmt_spread(a.get(g, m)), ms(median(b, g, m)), fmt_spread(b.get(g, m)),
                *judged)

    rows = tuple(cells(g, m) for g in operations(a, b) for m in methods(a, b))
    note = (f"B/A: B's median time over A's; below 1 B is faster, above 1 B is slower. IQR: the rounds' interquartile "
            f"range / median; {FLAG}: A's or B's IQR is over {NOISY:.0%}, so the ratio is uncertain; verdict: B "
            f"against A. {RULE}; the rounds of two runs never pair")
    header = ("method", "operation", "A (ms)", "A IQR", "B (ms)", "B IQR", "B/A", f"{CONFIDENCE:.0%} CI", "verdict")
    return Table("B/A per method and operation", header, rows, note, left=(0, 1, 8))


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
        changes = [change(a, b, g, m) for m in names]
        ratios = tuple(None if r is None else r.ratio for r in changes)
        tooltips = tuple(
            f"{SERIES_NAMES[g]}: A {ms(median(a, g, m))} ms, B {ms(median(b, g, m))} ms"
            + (f", B/A {fmt_ratio_ci(r)}: {WORDS[r.verdict]}" if r else "")
            for m, r in zip(names, changes)
        )
        spreads = tuple(None if r is None or r.low is None else (r.low, r.high) for r in changes)
        series.append(PanelSeries(SERIES_NAMES[g], COLORS[g], ratios, tuple(map(fmt_ratio, ratios)), tooltips,
                                  spreads, pale(changes)))
    found = bar_ends(series)
    return Panel(
        "B/A per method and operation",
        f"B/A of the median time (log scale): below 1x B is faster, above 1x B is slower; whiskers: "
        f"{CONFIDENCE:.0%} CI; {pale_note('1x')}",
        tuple((a if m in a.methods else b).label(m) for m in names), tuple(series), ratio_label, LOG,
        ratio_ticks(min(found, default=1.0), max(found, default=1.0)), origin=1.0, reference=1.0,
        no_data=f"{NA}: the runs share no method and operation",
    )


def compare_figure(a: Run, b: Run) -> Figure:
    return figures.panels_figure([panel(a, b)], heading(a, b), columns=1, width=11)
