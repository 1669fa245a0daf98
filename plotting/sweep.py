"""The parameter sweep's heatmaps and best configurations, from a stored run's sweep-* benchmarks."""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.sweep import flight_label, size_label  # noqa: E402

GROUPS = ("sweep-save", "sweep-load-cold")
METRICS = (("sweep-save", "save (ms)"), ("sweep-load-cold", "load-cold (ms)"), ("size", "size on disk (MiB)"))
PNG = "sweep_heatmaps.png"


@dataclass(frozen=True)
class Point:
    method: str
    target_bytes: int
    in_flight: int | None
    codec: str | None
    values: dict  # metric -> number (ms, or MiB for size)


def points(run: dict) -> list[Point]:
    """One point per swept configuration that has both a save and a cold load."""
    by_method: dict[str, dict] = {}
    for b in run.get("benchmarks", []):
        if b.get("group") in GROUPS:
            entry = by_method.setdefault(b["param"], {"info": b["extra_info"]})
            entry[b["group"]] = b["stats"]["median"] * 1e3
    out = []
    for method, entry in by_method.items():
        if all(g in entry for g in GROUPS):
            cfg = entry["info"]["config"]
            values = {g: entry[g] for g in GROUPS} | {"size": entry["info"]["disk_bytes"] / 2**20}
            out.append(Point(method, cfg["chunks"]["target_bytes"], cfg["in_flight"], cfg["compressor"], values))
    return out


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


def heatmap_figure(pts: list[Point]):
    """Rows: save, load-cold, size; columns: codecs; cells: chunk target x tensors in flight, annotated."""
    targets, flights, codecs = _axes_values(pts)
    fig, axes = plt.subplots(len(METRICS), len(codecs), figsize=(4.2 * len(codecs), 3.4 * len(METRICS)),
                             squeeze=False, layout="constrained", sharex=True, sharey=True)
    for row, (metric, title) in enumerate(METRICS):
        vmin = min(p.values[metric] for p in pts)
        vmax = max(p.values[metric] for p in pts)
        for col, codec in enumerate(codecs):
            grid = np.full((len(targets), len(flights)), np.nan)
            for p in pts:
                if p.codec == codec:
                    grid[targets.index(p.target_bytes), flights.index(p.in_flight)] = p.values[metric]
            ax = axes[row][col]
            image = ax.imshow(grid, cmap="viridis_r", aspect="auto", norm=matplotlib.colors.LogNorm(vmin, vmax))
            for (i, j), v in np.ndenumerate(grid):
                if not np.isnan(v):
                    ax.text(j, i, f"{v:.0f}" if v >= 100 else f"{v:.3g}", ha="center", va="center", fontsize=7,
                            color="white" if v > math.sqrt(vmin * vmax) else "black")
            ax.set_xticks(range(len(flights)), [flight_label(f) for f in flights])
            ax.set_yticks(range(len(targets)), [size_label(t, " ") for t in targets])
            ax.set_title(f"{title}, codec {codec or 'none'}", fontsize=10)
        axes[row][0].set_ylabel("chunk target")
        bar = fig.colorbar(image, ax=list(axes[row]), shrink=0.9, label=title)
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        bar.ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in axes[-1]:
        ax.set_xlabel("tensors in flight")
    return fig


def write_heatmaps(pts: list[Point], path) -> None:
    fig = heatmap_figure(pts)
    fig.savefig(path, dpi=110)
    plt.close(fig)
