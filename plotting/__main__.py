"""`python -m plotting`: the tables, the figure, the interactive SVG, comparison.md and comparison.json (every method
against the reference methods: ratio, interval, verdict) from stored runs;
`python -m plotting gate BASELINE CURRENT`: the regression gate for CI;
`python -m plotting sweep [RUN.json]`: the parameter sweep's heatmaps and its best configuration per operation;
`python -m plotting scaling RUN.json [RUN.json ...]`: throughput against the number of ranks (multi-rank runs)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plotting.compare import check_comparable, compare_figure, compare_text
from plotting.figures import DPI, performance_figure
from plotting.gate import ALPHA, AUTO, MAX_SLOWDOWN, NORMALIZE, gate, summary, verdict_table
from plotting import scaling, sweep
from plotting.references import DEFAULT, comparisons, references
from plotting.runs import RunError, load_each, load_runs, newest_run, read_json
from plotting.svg import performance_svg
from plotting.tables import report_markdown, report_text

PNG, SVG_FILE = "6way_performance_comparison.png", "6way_performance_comparison.svg"
MARKDOWN, COMPARISON_JSON, COMPARE_PNG = "comparison.md", "comparison.json", "compare.png"
# first arguments, not subparsers: `python -m plotting RUN.json` must keep working
GATE, SWEEP, SCALING = "gate", "sweep", "scaling"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, instead of argparse's usage block
        raise RunError(f"{message} (see {self.prog} --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m plotting", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog=f"python -m plotting {GATE} --help: the regression gate's options\n"
                       f"python -m plotting {SWEEP} --help: the parameter sweep's heatmaps\n"
                       f"python -m plotting {SCALING} --help: throughput against the number of ranks")
    p.add_argument("runs", nargs="*", type=Path, metavar="RUN.json",
                   help="stored run file(s) of one workload, merged into one report "
                        "(default: the newest under --storage)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                   help="two runs side by side: B/A per method and operation, and compare.png")
    p.add_argument("--out", type=Path, default=Path("out"),
                   help="directory for the figures and comparison.md (default: out)")
    p.add_argument("--storage", type=Path, default=Path(".benchmarks"),
                   help="pytest-benchmark storage (default: .benchmarks)")
    p.add_argument("--reference", type=_methods, metavar="METHOD[,METHOD]",
                   help=f"the methods every other is compared against in {COMPARISON_JSON} and the Verdicts table "
                        f"(default: {' and '.join(DEFAULT)}, where they ran)")
    return p


def _methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of method ids, e.g. pytorch,t5x")
    return names


def _percent(text: str) -> float:
    try:
        value = float(text.removesuffix("%")) / 100
    except ValueError:
        value = -1
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage above 0, e.g. 25%")
    return value


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a significance level between 0 and 1, e.g. 0.05")
    return value


def gate_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m plotting {GATE}", description=(
        "Fail (exit 1) when a method and operation of CURRENT is slower than in BASELINE by more than "
        "--max-slowdown after normalising, in the median and in the stored rounds (a one-sided Mann-Whitney U "
        "test against the baseline's rounds times 1 + the threshold, p <= --alpha). With several runs a side, "
        "the fastest current run is set against the slowest baseline run. "
        "Exit 0: nothing regressed; exit 2: unusable input."))
    p.add_argument("baseline", type=Path, metavar="BASELINE",
                   help="the main branch's run file, or a directory holding only its runs of one commit")
    p.add_argument("current", type=Path, metavar="CURRENT",
                   help="the change's run file, or a directory holding only its runs")
    p.add_argument("--max-slowdown", type=_percent, default=MAX_SLOWDOWN, metavar="PCT",
                   help=f"tolerated slowdown of the normalised median, e.g. 25%% (default {MAX_SLOWDOWN * 100:g}%%)")
    p.add_argument("--normalize", choices=NORMALIZE, default=AUTO,
                   help="divide every round by the same run's median of: the disk ceiling of the same operation, "
                        "the pytorch method's same operation (then pytorch itself is not gated), or nothing; "
                        "auto (default): of the references every run has, the one whose median moves least between "
                        "the runs gated (a steadier reference adds less noise of its own)")
    p.add_argument("--alpha", type=_alpha, default=ALPHA,
                   help=f"significance level of the rank test (default {ALPHA:g})")
    p.add_argument("--all", action="store_true", help="print every comparison, not only the regressions")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == [GATE]:
            return _gate(gate_parser().parse_args(argv[1:]))
        if argv[:1] == [SWEEP]:
            written = _sweep(sweep_parser().parse_args(argv[1:]))
        elif argv[:1] == [SCALING]:
            args = scaling_parser().parse_args(argv[1:])
            written = scaling.write(args.runs, args.out)
        else:
            written = _report_or_compare(parser().parse_args(argv))
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # writing the outputs
        where = e.filename or "the outputs"
        print(f"error: cannot write {where} ({e.strerror}); choose another --out directory", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def _report_or_compare(args) -> list[Path]:
    if args.compare and args.runs:
        raise RunError("give either RUN.json files or --compare A.json B.json, not both")
    if args.compare and args.reference:
        raise RunError("--reference is for a report of RUN.json files; --compare sets B against A")
    return _compare(args) if args.compare else _report(args)


def _report(args) -> list[Path]:
    run = load_runs(args.runs or [newest_run(args.storage)])
    refs = references(run, args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    print(report_text(run, refs))
    performance_figure(run).savefig(png := args.out / PNG, dpi=DPI)
    (svg := args.out / SVG_FILE).write_text(performance_svg(run), encoding="utf-8")
    rows = [row.to_json() for row in comparisons(run, refs)]
    (found := args.out / COMPARISON_JSON).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    (md := args.out / MARKDOWN).write_text(report_markdown(run, refs), encoding="utf-8")
    return [png, svg, found, md]


def sweep_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m plotting {SWEEP}",
                description="Heatmaps of a parameter sweep (save, load-cold, size) and the best configuration per operation.")
    p.add_argument("run", nargs="?", type=Path, metavar="RUN.json",
                   help="a run of `pytest bench/test_sweep.py --benchmark-only --ckpt-sweep` (default: the newest)")
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for sweep_heatmaps.png (default: out)")
    p.add_argument("--storage", type=Path, default=Path(".benchmarks"), help="pytest-benchmark storage (default: .benchmarks)")
    return p


def _sweep(args) -> list[Path]:
    path = args.run or newest_run(args.storage)
    points = sweep.points(read_json(path), str(path))
    if not points:
        raise RunError(f"{path}: no sweep benchmarks; run `pytest bench/test_sweep.py --benchmark-only --ckpt-sweep`")
    args.out.mkdir(parents=True, exist_ok=True)
    print(sweep.best_text(points))
    sweep.write_heatmaps(points, png := args.out / sweep.PNG)
    return [png]


def scaling_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m plotting {SCALING}", description="Save and cold-load throughput (the whole checkpoint's bytes / median time) against the "
                            "number of ranks, one line per method, with the disk ceiling and ideal linear scaling from "
                            "each method's smallest world size: scaling.png, scaling.svg and scaling.md (the table, "
                            "also printed: GB/s, load-resharded, speedup per method and world size).",
                epilog="Every run needs 'save' and 'load-cold' benchmarks and all must measure one workload (one error "
                       "line otherwise). Runs of a single world size are drawn too, with the note "
                       f"'{scaling.ONE_SIZE}'.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN.json",
                   help="stored run files of one workload, typically one per world size (torchrun --nproc-per-node N)")
    p.add_argument("--out", type=Path, default=Path("out"), metavar="DIR",
                   help="directory for scaling.png, scaling.svg and scaling.md (default: out)")
    return p


def _gate(args) -> int:
    verdict = gate(load_each(args.baseline), load_each(args.current), args.max_slowdown, args.normalize, args.alpha)
    if args.all or verdict.regressions:
        print(verdict_table(verdict, everything=args.all).text(), end="\n\n")
    print(summary(verdict))
    return 1 if verdict.regressions else 0


def _compare(args) -> list[Path]:
    a, b = (load_runs([p]) for p in args.compare)
    check_comparable(a, b)
    args.out.mkdir(parents=True, exist_ok=True)
    print(compare_text(a, b))
    compare_figure(a, b).savefig(png := args.out / COMPARE_PNG, dpi=DPI)
    return [png]


if __name__ == "__main__":
    sys.exit(main())
