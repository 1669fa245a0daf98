"""The scaling report: save and cold-load throughput against the number of ranks, from runs of one workload at
several world sizes (torchrun); scaling.png and scaling.svg (scaling_charts.py describes their charts once), and
scaling.md with the table that is also printed."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plotting import analysis
from plotting.runs import RUN_HINT, RunError, Stat, _check_one_workload, benchmark_id, read_json, read_record, read_stat
from plotting.tables import NA, Table
from runschema import CEILING, CEILING_OPS, LOAD_COLD, LOAD_RESHARDED, SAVE
from runschema import NAMED
from runschema import workload as runschema_workload

PNG, SVG_FILE, MARKDOWN = "scaling.png", "scaling.svg", "scaling.md"
OPS = (SAVE, LOAD_COLD)  # drawn, and needed in every run file
GROUPS = (*OPS, LOAD_RESHARDED, CEILING)
CEILING_NAME = "disk ceiling"
ONE_SIZE = "one world size: nothing to scale; pass runs of the same workload at other world sizes too"
WHAT = ("GB/s = the whole checkpoint's logical bytes / median time (10^9 bytes/s); speedup: GB/s over the method's "
        "GB/s at its smallest world size (ideal: ranks / those ranks); disk ceiling: every rank writes (save column) "
        "or reads cold (load column) its share at once")
RESHARDED_NOTE = "; load-resharded: a cold load by another world size than the one that saved (which: in brackets)"


@dataclass(frozen=True)
class Scaling:
    """Every benchmark of the runs by (group, method id or ceiling op, world size, saved world size)."""

    source: str
    stats: dict[tuple[str, str, int, int], Stat]

    @property
    def methods(self) -> tuple[str, ...]:
        """In the order the runs measured them."""
        return tuple(dict.fromkeys(m for g, m, _, _ in self.stats if g != CEILING))

    @property
    def world_sizes(self) -> tuple[int, ...]:
        return tuple(sorted({w for g, _, w, _ in self.stats if g in OPS}))

    @property
    def file_names(self) -> str:
        return ", ".join(Path(s).name for s in self.source.split(" + "))

    def get(self, group: str, method: str, world_size: int) -> Stat | None:
        """A save, a cold load or (method: its op) a ceiling benchmark at this world size."""
        return self.stats.get((group, method, world_size, world_size))

    def gbps(self, group: str, name: str, world_size: int) -> float | None:
        """Throughput of a method's (or, group CEILING, an op's) benchmark at this world size."""
        return analysis.gbps(self.get(group, name, world_size))

    def resharded(self, method: str, world_size: int) -> list[tuple[int, float | None]]:
        """(saved world size, GB/s) of each cold load at this world size of a checkpoint saved by another."""
        return sorted((s, analysis.gbps(st)) for (g, m, w, s), st in self.stats.items()
                      if (g, m, w) == (LOAD_RESHARDED, method, world_size))

    def speedup(self, group: str, method: str, world_size: int) -> float | None:
        """GB/s at this world size over the GB/s at the smallest world size that measured it."""
        measured = [(w, t) for w in self.world_sizes if (t := self.gbps(group, method, w)) is not None]
        here = self.gbps(group, method, world_size)
        return here / measured[0][1] if measured and here is not None else None

    def info(self, key: str, method: str | None = None):
        """The first stored value of a record field, of one method or of any benchmark."""
        return next((v for (_, m, _, _), s in self.stats.items()
                     if method in (None, m) and (v := getattr(s.record, key)) is not None), None)

    def label(self, method: str) -> str:
        return self.info("label", method) or method

    def nodes(self, world_size: int) -> int | None:
        return max((n for (_, _, w, _), s in self.stats.items() if w == world_size and (n := s.record.nnodes)),
                   default=None)


def load(paths: list[Path]) -> Scaling:
    """The runs' save, cold-load, resharded-load and ceiling benchmarks; every file needs saves and cold loads, and
    all of them one workload (runs.py's check)."""
    stats: dict[tuple[str, str, int, int], Stat] = {}
    origin: dict[tuple, str] = {}
    for path in paths:
        source, data = str(path), read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise RunError(f"{source}: not a pytest-benchmark run (no 'benchmarks' list); "
                           f"pass a file from .benchmarks/")
        found = set()
        for i, entry in enumerate(data["benchmarks"]):
            group = entry.get("group") if isinstance(entry, dict) else None
            if group not in GROUPS:
                continue
            where = f"{source}: benchmark #{i}"
            record = read_record(entry, where)
            name, ranks = benchmark_id(entry, record, group, where), record.world_size or 1
            saved = record.saved_world_size if group == LOAD_RESHARDED else ranks
            if saved is None:
                raise RunError(f"{where}: a {LOAD_RESHARDED} benchmark without extra_info.saved_world_size; "
                               f"the run file is corrupt")
            key, found = (group, name, ranks, saved), found | {group}
            stat = read_stat(entry, record, f"{source}: {group} of {name} at world size {ranks}")
            if key in origin:
                _check_one_workload([*stats.values(), stat], " + ".join(map(str, paths)))
                raise RunError(f"{source}: {group} of {name} at world size {ranks} is also in {origin[key]}; "
                               f"pass each world size's run once")
            origin[key], stats[key] = source, stat
        for group in OPS:
            if group not in found:
                raise RunError(f"{source}: no '{group}' benchmarks (it has: {', '.join(sorted(found)) or 'none'}); "
                               f"the scaling report needs 'save' and 'load-cold' in every run; {RUN_HINT}")
    scaling = Scaling(" + ".join(map(str, paths)), stats)
    _check_one_workload(list(stats.values()), scaling.source)
    if not any(s.record.logical_bytes for (g, *_), s in stats.items() if g in OPS):
        raise RunError(f"{scaling.source}: no save or load-cold benchmark stores extra_info.logical_bytes, so there "
                       f"is no throughput to draw; {RUN_HINT} with this version of ckpt-bench")
    return scaling


def fmt_gbps(value: float | None) -> str:
    """Two decimals, one from 10 GB/s, none from 100 GB/s, three under 0.1 GB/s."""
    if value is None:
        return NA
    decimals = 0 if value >= 100 else 1 if value >= 10 else 2 if value >= 0.1 else 3
    return f"{value:,.{decimals}f}"


def _speedup(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}x"


def _ranks(scaling: Scaling, world_size: int) -> str:
    nodes = scaling.nodes(world_size)
    return f"{world_size} ({nodes} nodes)" if nodes and nodes > 1 else str(world_size)


def table(scaling: Scaling) -> Table:
    """One row per method and world size, then the disk ceiling's; load-resharded only when some run measured it."""
    resharded = any(g == LOAD_RESHARDED for g, *_ in scaling.stats)
    header = ("method", "ranks", "save GB/s", "load-cold GB/s", *(("load-resharded GB/s",) if resharded else ()),
              "save speedup", "load speedup")
    ceiling = f"{CEILING_NAME} (write / read-cold)", (CEILING, CEILING), tuple(CEILING_OPS[op] for op in OPS)
    rows = []
    for label, groups, names in [(m, OPS, (m, m)) for m in scaling.methods] + [ceiling]:
        for w in scaling.world_sizes:
            gbps = [scaling.gbps(g, n, w) for g, n in zip(groups, names)]
            if all(v is None for v in gbps):
                continue
            loads = "; ".join(f"{fmt_gbps(t)} (from {s})" for s, t in scaling.resharded(names[0], w)) or NA
            rows.append((label, _ranks(scaling, w), *map(fmt_gbps, gbps), *((loads,) if resharded else ()),
                         *(_speedup(scaling.speedup(g, n, w)) for g, n in zip(groups, names))))
    return Table("Throughput by number of ranks", header, tuple(rows), WHAT + (RESHARDED_NOTE if resharded else ""))


def headline(scaling: Scaling) -> str:
    """The workload, the world sizes and the files."""
    workload = runschema_workload(scaling.info)
    parts = [f"{k} {v}" if k in NAMED else str(v) for k, v in workload.items()]
    if logical := scaling.info("logical_bytes"):
        unit, div = analysis.size_unit([logical])
        parts.append(f"{logical / div:.2f} {unit} checkpoint")
    sizes = scaling.world_sizes
    many = "s" * (len(sizes) > 1)
    parts.append(f"{len(sizes)} world size{many} ({', '.join(map(str, sizes))} rank{'s' * (sizes != (1,))})")
    return " · ".join(parts + [scaling.file_names])


def notes(scaling: Scaling) -> list[str]:
    return [ONE_SIZE] if len(scaling.world_sizes) == 1 else []


def text(scaling: Scaling) -> str:
    return "\n\n".join([f"ckpt-bench scaling: {headline(scaling)}", table(scaling).text(), *notes(scaling)]) + "\n"


def markdown(scaling: Scaling) -> str:
    parts = [f"# Checkpoint scaling\n\n{headline(scaling)}\n", table(scaling).markdown()]
    return "\n".join(parts + [f"{n}\n" for n in notes(scaling)])


def write(paths: list[Path], out: Path) -> list[Path]:
    """The table on stdout, and scaling.png, scaling.svg and scaling.md under `out`."""
    from plotting.figures import DPI  # here: scaling_render imports this module (its data and table)
    from plotting.scaling_render import scaling_figure, scaling_svg

    scaling = load(paths)
    out.mkdir(parents=True, exist_ok=True)
    print(text(scaling))
    scaling_figure(scaling).savefig(png := out / PNG, dpi=DPI)
    (svg := out / SVG_FILE).write_text(scaling_svg(scaling), encoding="utf-8")
    (md := out / MARKDOWN).write_text(markdown(scaling), encoding="utf-8")
    return [png, svg, md]
