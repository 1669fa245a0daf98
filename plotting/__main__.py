"""`python -m plotting`: the tables, the 4-panel figure, the interactive SVG and comparison.md from stored runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plotting.compare import check_comparable, compare_figure, compare_text
from plotting.figures import DPI, performance_figure
from plotting.runs import RunError, load_runs, newest_run
from plotting.svg import performance_svg
from plotting.tables import report_markdown, report_text

PNG, SVG_FILE = "6way_performance_comparison.png", "6way_performance_comparison.svg"
MARKDOWN, COMPARE_PNG = "comparison.md", "compare.png"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, instead of argparse's usage block
        raise RunError(f"{message} (see python -m plotting --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m plotting", description=__doc__)
    p.add_argument("runs", nargs="*", type=Path, metavar="RUN.json",
                   help="stored run file(s) of one workload, merged into one report "
                        "(default: the newest under --storage)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                   help="two runs side by side: B/A per method and operation, and compare.png")
    p.add_argument("--out", type=Path, default=Path("out"),
                   help="directory for the figures and comparison.md (default: out)")
    p.add_argument("--storage", type=Path, default=Path(".benchmarks"),
                   help="pytest-benchmark storage (default: .benchmarks)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        if args.compare and args.runs:
            raise RunError("give either RUN.json files or --compare A.json B.json, not both")
        written = _compare(args) if args.compare else _report(args)
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


def _report(args) -> list[Path]:
    run = load_runs(args.runs or [newest_run(args.storage)])
    args.out.mkdir(parents=True, exist_ok=True)
    print(report_text(run))
    performance_figure(run).savefig(png := args.out / PNG, dpi=DPI)
    (svg := args.out / SVG_FILE).write_text(performance_svg(run), encoding="utf-8")
    (md := args.out / MARKDOWN).write_text(report_markdown(run), encoding="utf-8")
    return [png, svg, md]


def _compare(args) -> list[Path]:
    a, b = (load_runs([p]) for p in args.compare)
    check_comparable(a, b)
    args.out.mkdir(parents=True, exist_ok=True)
    print(compare_text(a, b))
    compare_figure(a, b).savefig(png := args.out / COMPARE_PNG, dpi=DPI)
    return [png]


if __name__ == "__main__":
    sys.exit(main())
