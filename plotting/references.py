"""Every method against the run's reference methods, operation by operation: the rows of comparison.json and the
report's Verdicts table, each a ratio with its interval and verdict (plotting.verdicts)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from plotting import analysis
from plotting.runs import Run, RunError
from plotting.table import NA, Table
from plotting.verdicts import CONFIDENCE, RULE, WORDS, Ratio, fmt_ci, fmt_ratio
from runschema import ASYNC_GROUPS, BASELINE, GROUPS

DEFAULT = (BASELINE, "pytorch")  # the original guide's baseline and its speed reference, where they ran
COMPARED = (*GROUPS, *ASYNC_GROUPS)  # the method groups; the ceiling and train have no method to compare against
NO_REFERENCE = f"verdicts need a reference method in the run: {' or '.join(DEFAULT)}, or --reference METHOD"


@dataclass(frozen=True)
class Row:
    """One method against one reference in one operation."""

    group: str
    method: str
    reference: str
    ratio: Ratio

    def to_json(self) -> dict:
        r = self.ratio
        return {"group": self.group, "method": self.method, "reference": self.reference, "ratio": r.ratio,
                "low": r.low, "high": r.high, "verdict": r.verdict}


def references(run: Run, requested: Sequence[str] | None = None) -> tuple[str, ...]:
    """The methods requested, each of which the run must have measured; by default those of DEFAULT it measured."""
    if requested is None:
        return tuple(m for m in DEFAULT if m in run.methods)
    unknown = next((m for m in requested if m not in run.methods), None)
    if unknown:
        raise RunError(f"--reference {unknown}: {run.file_names} has no such method (it has: {', '.join(run.methods)})")
    return tuple(dict.fromkeys(requested))


def comparisons(run: Run, refs: Sequence[str]) -> list[Row]:
    """Per operation and reference that ran in it, every other method that ran in it, in the run's order."""
    return [
        Row(group, method, ref, analysis.versus(run, group, method, ref))
        for group in COMPARED
        for ref in refs if run.get(group, ref)
        for method in run.methods if method != ref and run.get(group, method)
    ]


def _rounds(r: Ratio) -> str:
    return f"{r.n} {'paired' if r.paired else 'unpaired'}" if r.n else NA


def verdicts_table(run: Run, refs: Sequence[str]) -> Table:
    found = comparisons(run, refs)
    if not found:
        return Table("Verdicts", (), (), f"{NA}: {NO_REFERENCE}")
    body = tuple((r.group, r.method, r.reference, fmt_ratio(r.ratio.ratio), fmt_ci(r.ratio) or NA,
                  WORDS[r.ratio.verdict], _rounds(r.ratio)) for r in found)
    header = ("operation", "method", "reference", "ratio", f"{CONFIDENCE:.0%} CI", "verdict", "rounds")
    return Table("Verdicts", header, body, f"ratio = the method's time / the reference's; {RULE}", left=(0, 1, 2, 5, 6))
