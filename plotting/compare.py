"""Two runs side by side (before/after a change, fsync vs none, CPU vs CUDA, two machines): B/A of the medians."""
from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from plotting.analysis import median
from plotting.figures import COLORS, STYLE, TEXT_SIZE, Series, barh
from plotting.runs import GROUPS, Run, RunError
from plotting.tables import NA, Table, ms_format


def check_comparable(a: Run, b: Run) -> None:
    model_a, model_b = a.workload.get("model"), b.workload.get("model")
    if model_a and model_b and model_a != model_b:
        raise RunError(
            f"{b.source} measured model {model_b!r} but {a.source} measured {model_a!r}; "
            f"B/A ratios need two runs of the same model"
        )


def context(run: Run) -> dict[str, str]:
    """What a run was measured on: the workload, the machine and the software versions, where stored."""
    bench = run.machine.get("ckpt_bench") or {}
    found = {
        **run.workload,
        "machine": run.machine.get("node"),
        "cpu": (run.machine.get("cpu") or {}).get("brand_raw"),
        "gpu": bench.get("cuda_device"),
        "filesystem": (bench.get("ckpt_filesystem") or {}).get("fstype"),
        "torch": bench.get("torch"),
        "tensorstore": bench.get("tensorstore"),
    }
    return {k: str(v) for k, v in found.items() if v is not None}


def differences(a: Run, b: Run) -> str:
    ca, cb = context(a), context(b)
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


def compare_table(a: Run, b: Run) -> Table:
    ms = ms_format(a, b)
    rows = tuple(
        (m, g, ms(median(a, g, m)), ms(median(b, g, m)), fmt_ratio(ratio(a, b, g, m)))
        for g in operations(a, b)
        for m in methods(a, b)
    )
    note = "B/A: B's median time over A's; below 1 B is faster, above 1 B is slower"
    header = ("method", "operation", "A (ms)", "B (ms)", "B/A")
    return Table("B/A per method and operation", header, rows, note, left=(0, 1))


def compare_text(a: Run, b: Run) -> str:
    return f"A: {a.source}\nB: {b.source}\ndiffers: {differences(a, b)}\n\n{compare_table(a, b).text()}\n"


def compare_figure(a: Run, b: Run) -> Figure:
    names = methods(a, b)
    labels = [(a if m in a.methods else b).label(m) for m in names]
    series = []
    for g in operations(a, b):
        values = [ratio(a, b, g, m) for m in names]
        series.append(Series(g, COLORS[g], values, [fmt_ratio(v) for v in values]))
    with rc_context(STYLE):
        fig = Figure(figsize=(11, 1.5 + 0.35 * len(names) * len(series)), layout="constrained")
        ax = fig.subplots()
        ax.set_xscale("log", base=2)  # 0.5x and 2x sit equally far from 1x
        barh(ax, labels, series, origin=1.0)
        ax.axvline(1, color="#333333", linewidth=1)
        ax.xaxis.set_major_locator(LogLocator(base=2))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("B/A of the median time (log scale): below 1x B is faster, above 1x B is slower")
        ax.set_title("B/A per method and operation")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=len(series), frameon=False, fontsize=TEXT_SIZE)
        heading = f"A: {a.source}\nB: {b.source}\ndiffers: {differences(a, b)}"
        fig.suptitle(heading, x=0.01, ha="left", fontsize=TEXT_SIZE + 1)
    return fig
