"""The original guide's tables, the rankings, the verdicts and the recommendations, as terminal text and as markdown."""
from __future__ import annotations

from collections.abc import Sequence

from plotting import analysis
from plotting.claims import claims_table
from plotting.context import context_lines
from plotting.references import references, verdicts_table
from plotting.runs import Run, Stat
from plotting.table import NA, Table, fmt_pct
from plotting.verdicts import CONFIDENCE, FASTER, RULE, SAME, SHORT, SLOWER, Ratio, fmt_pct_ci, fmt_ratio_ci
from runschema import NAMED, BASELINE, CEILING_OPS, GROUPS, LOAD_COLD, LOAD_WARM, SAVE, improvement
from runschema import ASYNC_DURABLE, ASYNC_STALL, TRAIN_MODES, TRAIN_NONE, train_overhead

GROUP_NAMES = {SAVE: "save", LOAD_COLD: "load", LOAD_WARM: "load-warm"}  # the original guide calls load-cold "load"
LOAD_NOTE = "load = load-cold: page cache evicted before every round; load-warm: checkpoint already in the page cache"
NO_BASELINE = f"improvements need the '{BASELINE}' baseline in the run; include it in --ckpt-methods"
NO_SIZES = "the run stores no disk_bytes"
NO_CEILING = "the run has no 'ceiling' group; run `pytest bench/ --benchmark-only` without -k to measure the disk"
NO_PEAKS = "the run stores no peak_rss_bytes"
CEILING_WHAT = "the same bytes as one file, or one file per core at once: the faster"
EFFICIENCY_NOTE = "efficiency = ceiling median / method median; 100% = as fast as the disk allows"
NO_CPU = "the run stores no CPU time (made before ckpt-bench recorded it)"
CPU_NOTE = ("CPU: user + system seconds of the whole process per round (median), every thread counted; "
            "cores = CPU / wall time: near the core count, the method is bound by the processor; "
            "well under 1, it waits on the disk")
NOT_RECORDED = "-"  # a field that the version which stored the run did not record yet
ANON = ("peak_anon_bytes", "anon")  # beside RSS in the table; not in analysis.PEAKS, so the figures stay as they are
PEAK_NOTE = (
    "peak memory above the level before the operation, in one untimed round\n"
    "RSS: resident (the kernel's high-water mark), file pages mapped in included, which the kernel may drop\n"
    "anon: anonymous memory only (heap, buffers), sampled every millisecond: a shorter spike may be missing; "
    f"{NOT_RECORDED} where the run was stored before ckpt-bench measured it\n"
    "CUDA: allocated"
)
FLAG = "!"
SPREAD_LEGEND = (
    f"{FLAG} = the rounds' IQR is over {analysis.NOISY:.0%} of their median: that median is uncertain; "
    "rerun on a quieter machine or with a higher --benchmark-min-rounds"
)


def ms_format(*runs: Run):
    """Milliseconds with one decimal as the original guide; more when the fastest median is under 10 ms (tiny runs)."""
    fastest = min(s.median for run in runs for s in run.stats.values()) * 1000
    decimals = 1 if fastest >= 10 else 2 if fastest >= 1 else 3
    return lambda seconds: NA if seconds is None else f"{seconds * 1000:.{decimals}f}"


def fmt_ms(seconds: float) -> str:
    """Three significant digits, without an exponent: 0.126, 52.5, 1,910."""
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}"


def fmt_num(x: float | None, spec: str = ".2f") -> str:
    return NA if x is None else format(x, spec)


def fmt_efficiency(ratio: float | None) -> str:
    return NA if ratio is None else f"{ratio * 100:.1f}%"


def fmt_spread(stat: Stat | None) -> str:
    """IQR / median in %, the flag in front so that the numbers still align right."""
    spread = stat.relative_iqr if stat else None
    if spread is None:
        return NA
    return (f"{FLAG} " if analysis.noisy(stat) else "") + f"{spread * 100:.1f}%"


def ceiling_line(run: Run) -> str:
    """The disk's own median time and GB/s for each ceiling operation the run measured, in one line."""
    ops = [(op, stat) for op in CEILING_OPS.values() if (stat := run.ceiling.get(op))]
    parts = [f"{op} {fmt_ms(stat.median)} ms = {fmt_num(analysis.gbps(stat), '.3g')} GB/s{_streams(stat)}"
             for op, stat in ops]
    return f"disk ceiling ({CEILING_WHAT}): {' · '.join(parts)}"


def _streams(stat) -> str:
    return f" ({stat.record.streams} streams)" if (stat.record.streams or 1) > 1 else ""


def baseline_label(run: Run) -> str:
    return run.label(BASELINE)


def headline(run: Run) -> str:
    """What was measured: the workload as far as the run stores it, and where the numbers come from."""
    parts = [f"{k} {v}" if k in NAMED else str(v) for k, v in run.workload.items()]
    n, logical = run.info("n_tensors"), run.info("logical_bytes")
    if n:
        parts.append(f"{n} tensors")
    if logical:
        unit, div = analysis.size_unit([logical])
        parts.append(f"{logical / div:.2f} {unit} of {'tensors' if 'state' in run.workload else 'weights'}")
    return " · ".join(parts + [run.file_names])


def comparison_table(run: Run) -> Table:
    unit, div = analysis.size_unit(analysis.sizes(run).values())
    ms = ms_format(run)
    rows = tuple(
        (
            m,
            *(ms(analysis.median(run, g, m)) for g in (SAVE, LOAD_COLD, LOAD_WARM)),
            fmt_num(None if (b := analysis.disk_bytes(run, m)) is None else b / div),
            *(fmt_num(analysis.gbps(run.get(g, m)), ".3g") for g in (SAVE, LOAD_COLD)),
        )
        for m in run.methods
    )
    header = ("method", "save (ms)", "load (ms)", "load-warm (ms)", f"size ({unit})", "save GB/s", "load GB/s")
    note = f"{LOAD_NOTE}\ntimes: medians of the rounds; size: blocks on disk; GB/s: weight bytes / median time"
    return Table(f"{len(run.methods)}-Way Comparison Table", header, rows, note)


def _improvement_cells(ratio: Ratio | None) -> tuple[str, str, str]:
    if ratio is None:
        return NA, NA, NA
    return fmt_pct(ratio.improvement), fmt_pct_ci(ratio) or NA, SHORT[ratio.verdict]


def improvement_table(run: Run) -> Table:
    title = f"Improvements vs {baseline_label(run)} Baseline"
    if BASELINE not in run.methods:
        return Table(title, (), (), f"{NA}: {NO_BASELINE}")
    rows = tuple(
        (m, *(cell for g in (SAVE, LOAD_COLD) for cell in _improvement_cells(analysis.versus(run, g, m))))
        for m in run.methods
        if m != BASELINE
    )
    header = ("method", *(h for g in (SAVE, LOAD_COLD) for h in (f"{GROUP_NAMES[g]} improvement",
                                                                 f"{GROUP_NAMES[g]} {CONFIDENCE:.0%} CI",
                                                                 f"{GROUP_NAMES[g]} verdict")))
    note = (f"improvement = (1 - ratio) x 100, ratio = method / {BASELINE}: of the median times, or where the rounds "
            f"ran side by side the median of the per-pair ratios; positive = faster than {BASELINE}\n{RULE}")
    return Table(title, header, rows, note, left=(0, 3, 6))


def ranking_table(run: Run, group: str) -> Table:
    name, ms = GROUP_NAMES[group], ms_format(run)
    medians = analysis.medians(run, group)
    order = analysis.ranked(medians)
    fastest = order[0][1] if order else None

    def vs_fastest(method: str) -> str:
        ratio = analysis.versus(run, group, method, fastest)
        return "fastest" if method == fastest else f"{fmt_ratio_ci(ratio)} {SHORT[ratio.verdict]}"

    rows = tuple(
        (str(rank), m, ms(medians[m]), _vs_baseline(analysis.time_improvement(run, group, m), m), vs_fastest(m))
        for rank, m in order
    )
    header = ("rank", "method", f"{name} (ms)", f"vs {BASELINE}", "vs fastest")
    note = f"vs fastest: the method's time / the fastest median's ({fastest}), {CONFIDENCE:.0%} CI and verdict; {RULE}"
    return Table(f"Ranking by {name.title()} Performance (fastest first)", header, rows, note, left=(1, 4))


def _vs_baseline(pct: float | None, method: str) -> str:
    return "baseline" if method == BASELINE else fmt_pct(pct)


def efficiency_table(run: Run) -> Table:
    title = "Efficiency vs the Disk Ceiling"
    if not run.ceiling:
        return Table(title, (), (), f"{NA}: {NO_CEILING}")
    rows = tuple((m, *(fmt_efficiency(analysis.efficiency(run, g, m)) for g in GROUPS)) for m in run.methods)
    return Table(title, ("method", *GROUP_NAMES.values()), rows, f"{ceiling_line(run)}\n{EFFICIENCY_NOTE}")


def memory_table(run: Run) -> Table:
    """Per operation, each peak of analysis.PEAKS the run measured, with the anonymous peak beside RSS; the unit (one
    for the whole table) is in the title, so that the columns stay narrow."""
    keys = analysis.peak_keys(run)
    if not keys:
        return Table("Peak Memory per Operation", (), (), f"{NA}: {NO_PEAKS}")
    cells = [  # RSS and anon side by side, operation by operation; then CUDA per operation
        (k, f"{GROUP_NAMES[g]} {name}", g)
        for key in keys for g in GROUPS for k, name in ([key, ANON] if key[0] == "peak_rss_bytes" else [key])
    ]
    unit, div = analysis.size_unit(v for m in run.methods for k, _, g in cells if (v := analysis.peak(run, g, m, k)))

    def cell(key: str, group: str, method: str) -> str:
        b = analysis.peak(run, group, method, key)
        if b is None and key == ANON[0] and run.get(group, method) is not None:
            return NOT_RECORDED  # measured, by a version that did not sample the anonymous memory yet
        return fmt_num(None if b is None else b / div)

    rows = tuple((m, *(cell(k, g, m) for k, _, g in cells)) for m in run.methods)
    return Table(f"Peak Memory per Operation ({unit})", ("method", *(h for _, h, _ in cells)), rows, PEAK_NOTE)


def cpu_table(run: Run) -> Table:
    title = "CPU Time per Operation"
    groups = [g for g in GROUPS if any(analysis.cpu_seconds(run, g, m) is not None for m in run.methods)]
    if not groups:
        return Table(title, (), (), f"{NA}: {NO_CPU}")
    ms = ms_format(run)
    rows = tuple(
        (m, *(cell for g in groups for cell in (ms(analysis.cpu_seconds(run, g, m)),
                                                fmt_num(analysis.cores_busy(run, g, m)))))
        for m in run.methods
    )
    header = ("method", *(h for g in groups for h in (f"{GROUP_NAMES[g]} CPU (ms)", f"{GROUP_NAMES[g]} cores")))
    return Table(title, header, rows, CPU_NOTE)


def _with_ceiling(run: Run) -> list[tuple[str, tuple]]:
    """(name, its Stat per group) for every method, then the disk ceiling's write / read-cold / read-warm under save /
    load / load-warm when the run measured it."""
    rows = [(m, tuple(run.get(g, m) for g in GROUPS)) for m in run.methods]
    if run.ceiling:
        rows.append(("disk ceiling", tuple(run.ceiling.get(CEILING_OPS[g]) for g in GROUPS)))
    return rows


def spread_table(run: Run) -> Table:
    rows = tuple((name, *map(fmt_spread, stats)) for name, stats in _with_ceiling(run))
    return Table("Spread of the Rounds (IQR / median)", ("method", *GROUP_NAMES.values()), rows, SPREAD_LEGEND)


REQUESTS_NOTE = (
    "requests the disk under test (--ckpt-dir's block device) completed during a round, median of the rounds: writes "
    "for a save, reads for a load; the whole system's, so other programs' I/O counts too (at several ranks: rank 0's "
    "host, every rank on it); KiB = bytes / requests; the ceiling: the faster stream count, as in the efficiency "
    "table. A load-warm that reads about the checkpoint's bytes was not warm; with --ckpt-durability none a save's "
    "writes reach the disk after its round. The same bytes in fewer, larger requests is what a disk serves fastest"
)


def requests_table(run: Run) -> Table | None:
    """Per method and the disk ceiling, the requests of each operation and their mean size. None for a run that
    stores none (made before ckpt-bench counted them, or on a file system without a block device: tmpfs, overlay)."""
    rows_of = _with_ceiling(run)
    cells = {(name, g): analysis.requests(stat, g) for name, stats in rows_of for g, stat in zip(GROUPS, stats)}
    if all(count is None for count, _ in cells.values()):
        return None

    def cell(name: str, group: str) -> tuple[str, str]:
        count, size = cells[name, group]
        return (NA, NA) if count is None else (f"{count:,}", NA if size is None else f"{size / 2**10:,.0f}")

    rows = tuple((name, *(c for g in GROUPS for c in cell(name, g))) for name, _ in rows_of)
    header = ("method", *(h for g in GROUPS for h in (f"{GROUP_NAMES[g]} {analysis.REQUESTS[g][2]}s",
                                                      f"{GROUP_NAMES[g]} KiB")))
    return Table("Disk Requests per Round", header, rows, REQUESTS_NOTE)


ASYNC_NOTE = (
    "save: the synchronous save of the same run; stall: from the call until the caller may modify its tensors again "
    "(the snapshot to host memory, or the arrays opened and copied); durable: from the call until the checkpoint is on "
    "stable storage; times: medians of the rounds"
)


def async_table(run: Run) -> Table | None:
    """Per method with asynchronous saves (--ckpt-async): the synchronous save, the stall, the time until durable, and
    what the stall and the durable save cost relative to the synchronous save. None for a run without them."""
    methods = [m for m in run.methods if run.get(ASYNC_STALL, m) or run.get(ASYNC_DURABLE, m)]
    if not methods:
        return None
    ms = ms_format(run)

    def ratio(group: str, method: str) -> str:
        value, save = analysis.median(run, group, method), analysis.median(run, SAVE, method)
        return NA if value is None or save is None else f"{value / save * 100:.1f}%"

    rows = tuple(
        (m, *(ms(analysis.median(run, g, m)) for g in (SAVE, ASYNC_STALL, ASYNC_DURABLE)),
         ratio(ASYNC_STALL, m), ratio(ASYNC_DURABLE, m))
        for m in methods
    )
    header = ("method", "save (ms)", "stall (ms)", "durable (ms)", "stall / save", "durable / save")
    return Table("Asynchronous saves", header, rows, ASYNC_NOTE)


TRAIN_TITLE = "Training with checkpoints"
NO_TRAIN_NONE = f"overhead needs the train benchmark without checkpoints ({TRAIN_NONE}); run without -k filters"


def train_loop(run: Run) -> str:
    """The train group's loop in words, from its stored record: '20 steps of 512 tokens, a checkpoint every 5'."""
    loop = next((s.record.train for s in run.train.values() if s.record.train), None) or {}
    if not all(k in loop for k in ("steps", "tokens", "every")):
        return "training steps"
    return f"{loop['steps']} steps of {loop['tokens']} tokens, a checkpoint every {loop['every']}"


def train_overheads(run: Run, method: str) -> tuple[float | None, ...]:
    """The method's training overhead in %, synchronous and asynchronous (runschema.train_overhead)."""
    without = run.train.get((TRAIN_NONE, TRAIN_NONE))
    return tuple(train_overhead(without and without.median, s and s.median)
                 for s in (run.train.get((method, mode)) for mode in TRAIN_MODES))


def train_methods(run: Run) -> list[str]:
    """The methods with train benchmarks, in the run's order (the registry's), those only in train last."""
    trained = dict.fromkeys(m for m, _ in run.train if m != TRAIN_NONE)
    return [m for m in run.methods if m in trained] + [m for m in trained if m not in run.methods]


UNRESOLVED = "(n.s.)"  # an overhead that the rounds do not resolve


def train_table(run: Run) -> Table | None:
    """--ckpt-async's train group: per method its rounds with synchronous and asynchronous checkpoints and what they
    add to the round without checkpoints, in %; that round in the note. None for a run without the group."""
    if not run.train:
        return None
    ms = ms_format(run)

    def median(method: str, mode: str) -> str:
        stat = run.train.get((method, mode))
        return ms(stat.median if stat else None)

    without = run.train.get((TRAIN_NONE, TRAIN_NONE))

    def overhead(method: str, mode: str, pct: float | None) -> str:
        unresolved = pct is not None and analysis.resolved(without, run.train.get((method, mode))) is False
        return fmt_pct(pct) + (f" {UNRESOLVED}" if unresolved else "")

    rows = tuple((m, *(median(m, mode) for mode in TRAIN_MODES),
                  *(overhead(m, mode, pct) for mode, pct in zip(TRAIN_MODES, train_overheads(run, m))))
                 for m in train_methods(run))
    header = ("method", "sync (ms)", "async (ms)", "sync overhead", "async overhead")
    baseline = f"{median(TRAIN_NONE, TRAIN_NONE)} ms" if without else f"{NA} ({NO_TRAIN_NONE})"
    note = (f"a round: {train_loop(run)}, timed as a whole; without checkpoints ({TRAIN_NONE}): {baseline}\n"
            f"overhead = (round with the method's checkpoints / round without - 1) in %; sync: checkpoint.save; "
            f"async: save_async, each save awaited before the next and the last before the round ends; "
            f"times: medians of the rounds; {UNRESOLVED}: its rounds and those without checkpoints do not differ "
            f"(Mann-Whitney U, two-sided, p >= 0.05; 3 rounds against 3 never can: --benchmark-min-rounds=5)")
    return Table(TRAIN_TITLE, header, rows, note)


def tables(run: Run, refs: Sequence[str] | None = None) -> list[Table]:
    """Every table of the report; the Verdicts against `refs` (references.references: by default tensorstore and
    pytorch)."""
    return [
        comparison_table(run), improvement_table(run), *filter(None, [claims_table(run)]),
        ranking_table(run, SAVE), ranking_table(run, LOAD_COLD), verdicts_table(run, references(run, refs)),
        efficiency_table(run), memory_table(run), cpu_table(run), spread_table(run),
        *filter(None, [requests_table(run), async_table(run), train_table(run)]),
    ]


def recommendations(run: Run) -> list[str]:
    """Fastest save, fastest load, smallest on disk and best balance, each with its numbers and the runner-up; the
    fastest also with its ratio to the runner-up, which says when the two are not shown to differ."""
    ms = ms_format(run)
    save, load = analysis.medians(run, SAVE), analysis.medians(run, LOAD_COLD)
    sizes, scores = analysis.sizes(run), analysis.balance(run)
    unit, div = analysis.size_unit(sizes.values())

    def fastest(title: str, group: str, medians: dict[str, float]) -> str:
        def describe(m: str) -> str:
            return f"{ms(medians[m])} ms{_vs(analysis.time_improvement(run, group, m), m, 'faster', 'slower')}"

        return _pick(title, medians, describe, versus=lambda m, other: _versus(run, group, m, other))

    return [
        fastest("Fastest save", SAVE, save),
        fastest("Fastest load", LOAD_COLD, load),
        _pick(
            "Smallest on disk", sizes,
            lambda m: f"{sizes[m] / div:.2f} {unit}"
                      f"{_vs(improvement(sizes.get(BASELINE), sizes[m]), m, 'smaller', 'larger')}",
            missing=NO_SIZES,
        ),
        _pick(
            "Best save+load balance (geometric mean of save and load time, each relative to the fastest)", scores,
            lambda m: f"save {ms(save[m])} ms, load {ms(load[m])} ms: {scores[m]:.2f}x",
            missing="no method has both save and load",
        ),
    ]


def _vs(pct: float | None, method: str, better: str, worse: str) -> str:
    if pct is None or method == BASELINE:
        return ""
    return f", {abs(pct):.1f}% {better if pct >= 0 else worse} than {BASELINE}"


RELATIONS = {FASTER: "faster than", SLOWER: "slower than", SAME: "no difference shown from"}


def _versus(run: Run, group: str, method: str, other: str) -> str:
    """"; faster than OTHER: 0.08 [0.07, 0.18]", or "no difference shown from" (without rounds: say so)."""
    ratio = analysis.versus(run, group, method, other)
    rounds = "" if ratio.n else ", the run stores no rounds"
    return f"; {RELATIONS[ratio.verdict]} {other}: {fmt_ratio_ci(ratio)}{rounds}"


def _pick(title: str, values: dict[str, float], describe, missing: str = "", versus=None) -> str:
    """The best (smallest) method of `values` and the runner-up, described with their numbers; `versus(best,
    runner-up)` adds to the best's."""
    order = [m for _, m in analysis.ranked(values)]
    if not order:
        return f"{title}: {NA} ({missing})"
    best = describe(order[0]) + (versus(*order[:2]) if versus and len(order) > 1 else "")
    text = f"{title}: {order[0]} ({best})"
    return text + (f"; runner-up {order[1]} ({describe(order[1])})" if len(order) > 1 else "")


def report_text(run: Run, refs: Sequence[str] | None = None) -> str:
    recs = "\n".join(["Recommendations", *(f"- {r}" for r in recommendations(run))])
    return "\n\n".join([f"ckpt-bench run: {headline(run)}", *(t.text() for t in tables(run, refs)), recs]) + "\n"


def report_markdown(run: Run, refs: Sequence[str] | None = None) -> str:
    measured = "\n".join(["## Where and how it was measured", "", *context_lines(run), ""])
    parts = [f"# Checkpoint comparison\n\n{headline(run)}\n", measured, *(t.markdown() for t in tables(run, refs))]
    parts.append("\n".join(["## Recommendations", "", *(f"- {r}" for r in recommendations(run)), ""]))
    return "\n".join(parts)
