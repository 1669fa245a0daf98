"""The parameter sweep's heatmaps and best configurations, from a stored run's sweep-* benchmarks."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot/GUI state
from matplotlib.ticker import MaxNLocator

from plotting.figures import HEADING_SIZE, wrap_heading
from plotting.panels import MANTISSAS, MAX_TICKS, log_values
from plotting.runs import RunError, benchmark_id, read_record, read_stat
from runschema import NAMED, SWEEP_AXES, SWEEP_GROUPS, SWEEP_LOAD_COLD, SWEEP_SAVE, WORKLOAD, Record, RecordError, SweepAxes, flight_label, size_label

GROUPS = SWEEP_GROUPS
METRICS = ((SWEEP_SAVE, "save (ms)"), (SWEEP_LOAD_COLD, "load-cold (ms)"), ("size", "size on disk (MiB)"))
PNG = "sweep_heatmaps.png"


@dataclass(frozen=True)
class Point:
    method: str
    target_bytes: int
    in_flight: int | None
    codec: str | None
    values: dict  # metric -> number (ms, or MiB for size)
    workload: dict = field(default_factory=dict)  # the WORKLOAD keys its benchmarks store
    rounds: tuple[int, ...] = ()  # of its save and its cold load, where stored


def points(run: dict, source: str = "this run") -> list[Point]:
    """One point per swept configuration that has both a save and a cold load; a damaged sweep is one RunError line."""
    by_method: dict[str, dict] = {}
    for i, b in enumerate(run.get("benchmarks", []) if isinstance(run, dict) else []):
        if not isinstance(b, dict) or b.get("group") not in GROUPS:
            continue
        where = f"{source}: sweep benchmark #{i}"
        record = read_record(b, where)
        stat = read_stat(b, record, where)
        method = benchmark_id(b, record, b["group"], where)
        entry = by_method.setdefault(method, {"axes": _axes(b, record, where), "record": record, "rounds": set()})
        entry[b["group"]] = stat.median * 1e3
        entry["rounds"].add(stat.rounds)
    out = []
    for method, entry in by_method.items():
        if all(g in entry for g in GROUPS):
            record, axes = entry["record"], entry["axes"]
            if record.disk_bytes is None:
                raise RunError(f"{source}: sweep point {method}: no extra_info.disk_bytes; the run file is corrupt")
            values = {g: entry[g] for g in GROUPS} | {"size": record.disk_bytes / 2**20}
            rounds = tuple(sorted(r for r in entry["rounds"] if r))
            out.append(Point(method, axes.target_bytes, axes.in_flight, axes.codec, values, record.workload, rounds))
    return out


def _axes(entry: dict, record: Record, where: str) -> SweepAxes:
    """The point's axes from its params (plain strings since schema 2), else from its stored TensorStore config."""
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    try:
        if all(axis in params for axis in SWEEP_AXES):
            return SweepAxes.from_params(params)
        config = record.config or {}
        return SweepAxes(config["chunks"]["target_bytes"], config["in_flight"], config["compressor"])
    except RecordError as e:
        raise RunError(f"{where}: {e}; the run file is corrupt") from None
    except (KeyError, TypeError):
        raise RunError(f"{where}: neither params {', '.join(SWEEP_AXES)} nor a stored chunk target; "
                       f"not a run of `pytest bench/test_sweep.py --ckpt-sweep`") from None


def best(pts: list[Point]) -> dict[str, Point]:
    """The configuration with the smallest value of every metric."""
    return {metric: min(pts, key=lambda p: p.values[metric]) for metric, _ in METRICS} if pts else {}


def best_text(pts: list[Point]) -> str:
    if not pts:
        return ""
    lines, winners = ["Sweep: best configuration per operation"], best(pts)
    for metric, title in METRICS:
        p = winners[metric]
        lines.append(f"- {title}: {p.method} ({p.values[metric]:.1f}; "
                     f"chunk target {size_label(p.target_bytes, ' ')}, {flight_label(p.in_flight)} in flight, "
                     f"codec {p.codec or 'none'})")
    return "\n".join(lines)


def _axes_values(pts: list[Point]):
    targets = sorted({p.target_bytes for p in pts})
    flights = sorted({p.in_flight for p in pts}, key=lambda f: math.inf if f is None else f)
    codecs = sorted({p.codec for p in pts}, key=lambda c: "" if c is None else c)
    return targets, flights, codecs


def title(pts: list[Point]) -> str:
    """What the sweep measured: its workload as far as the benchmarks store it, and the rounds per point."""
    parts = []
    for key in WORKLOAD:
        found = " / ".join(sorted({str(p.workload[key]) for p in pts if key in p.workload}))
        if found:
            parts.append(f"{key} {found}" if key in NAMED else found)
    rounds = sorted({r for p in pts for r in p.rounds})
    if rounds:
        parts.append(f"{rounds[0]} rounds" if len(rounds) == 1 else f"{rounds[0]} to {rounds[-1]} rounds")
    return " · ".join(["Parameter sweep", *parts])


def heatmap_figure(pts: list[Point]) -> Figure:
    """Rows: save, load-cold, size; columns: codecs; cells: chunk target x tensors in flight, annotated."""
    targets, flights, codecs = _axes_values(pts)
    width = 4.2 * len(codecs) + 1.2
    fig = Figure(figsize=(width, 3.4 * len(METRICS) + 0.6), layout="constrained")
    axes = fig.subplots(len(METRICS), len(codecs), squeeze=False, sharex=True, sharey=True)
    fig.suptitle(wrap_heading([title(pts)], width), fontsize=HEADING_SIZE)
    for row, (metric, name) in enumerate(METRICS):
        vmin = min(p.values[metric] for p in pts)
        vmax = max(p.values[metric] for p in pts)
        for col, codec in enumerate(codecs):
            grid = np.full((len(targets), len(flights)), np.nan)
            for p in pts:
                if p.codec == codec:
                    grid[targets.index(p.target_bytes), flights.index(p.in_flight)] = p.values[metric]
            ax = axes[row][col]
            image = ax.imshow(grid, cmap="viridis_r", aspect="auto", norm=LogNorm(vmin, vmax))
            for (i, j), v in np.ndenumerate(grid):
                if not np.isnan(v):
                    ax.text(j, i, f"{v:.0f}" if v >= 100 else f"{v:.3g}", ha="center", va="center", fontsize=7,
                            color="white" if v > math.sqrt(vmin * vmax) else "black")
            ax.set_xticks(range(len(flights)), [flight_label(f) for f in flights])
            ax.set_yticks(range(len(targets)), [size_label(t, " ") for t in targets])
            ax.set_title(f"{name}, codec {codec or 'none'}", fontsize=10)
        axes[row][0].set_ylabel("chunk target")
        bar = fig.colorbar(image, ax=list(axes[row]), shrink=0.9, label=f"{name}, log scale")
        ticks = colorbar_ticks(vmin, vmax)
        bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
        bar.ax.minorticks_off()
    for ax in axes[-1]:
        ax.set_xlabel("tensors in flight")
    return fig


def colorbar_ticks(vmin: float, vmax: float) -> list[float]:
    """Three to MAX_TICKS labelled values from vmin to vmax: 1-2-5 steps, decades or every digit, whichever fits the
    range; a narrow one (sizes of 295 to 324 MiB) gets evenly spaced round numbers."""
    for mantissas in (MANTISSAS, (1,), tuple(range(1, 10))):
        ticks = log_values(vmin, vmax, mantissas)
        if 3 <= len(ticks) <= MAX_TICKS:
            return list(ticks)
    rounded = MaxNLocator(4, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)
    return [float(t) for t in rounded if vmin <= t <= vmax] or [vmin]


def write_heatmaps(pts: list[Point], path) -> None:
    heatmap_figure(pts).savefig(path, dpi=110)
