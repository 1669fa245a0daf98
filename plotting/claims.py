"""The original guide's improvements over the tensorstore baseline (docs/original-guide.md), each claim set against
what a run measured: confirmed, refuted, or not shown."""
from __future__ import annotations

from plotting import analysis
from plotting.runs import Run
from plotting.table import NA, Table, fmt_pct
from plotting.verdicts import CONFIDENCE, FACTOR, RULE, SAME, WORDS, Ratio, fmt_pct_ci, verdict
from runschema import BASELINE, LOAD_COLD, SAVE

# % less time than tensorstore, as the guide printed them (positive: faster); the guide's load is load-cold
GUIDE_IMPROVEMENTS = {
    ("t5x", SAVE): 53.6, ("t5x", LOAD_COLD): -67.4,
    ("ts+concurrency", SAVE): 31.2, ("ts+concurrency", LOAD_COLD): 4.8,
    ("ts+chunks", SAVE): 52.6, ("ts+chunks", LOAD_COLD): -22.4,
    ("ts+compression", SAVE): -1.8, ("ts+compression", LOAD_COLD): -42.0,
}
CONFIRMED, REFUTED, NOT_SHOWN = "confirmed", "refuted", "not shown"
TITLE = "The original guide's claims"


def claimed(pct: float) -> str:
    """The verdict a claim amounts to: its ratio judged as if it were certain, so that a claim within FACTOR claims
    no difference."""
    ratio = 1 - pct / 100
    return verdict(ratio, ratio, ratio)


def outcome(claim: str, measured: Ratio) -> str:
    """Confirmed when the measured verdict is the claim's direction, or, of a claim of no difference, when the whole
    interval lies within FACTOR of 1 (an equivalence shown, not a difference missed); refuted when the verdict is
    another direction; not shown otherwise, or when nothing could be (no stored rounds)."""
    if measured.low is None:
        return NOT_SHOWN
    if claim == SAME:
        if 1 / FACTOR <= measured.low and measured.high <= FACTOR:
            return CONFIRMED
        return NOT_SHOWN if measured.verdict == SAME else REFUTED
    if measured.verdict == claim:
        return CONFIRMED
    return NOT_SHOWN if measured.verdict == SAME else REFUTED


def claims_table(run: Run) -> Table | None:
    """Each claim whose method the run measured against tensorstore; None where there is none."""
    rows = []
    for (method, group), pct in GUIDE_IMPROVEMENTS.items():
        r = analysis.versus(run, group, method)
        if r is not None:
            rows.append((f"{method} {group}", fmt_pct(pct), fmt_pct(r.improvement), fmt_pct_ci(r) or NA,
                         WORDS[r.verdict], outcome(claimed(pct), r)))
    if not rows:
        return None
    header = ("claim", "guide", "measured", f"{CONFIDENCE:.0%} CI", "verdict", "outcome")
    note = (f"guide and measured: % less time than {BASELINE} (positive = faster), the guide's from its one run; "
            f"measured = (1 - ratio) x 100, ratio = the method's time / {BASELINE}'s; {RULE}\n"
            f"outcome: {CONFIRMED} when the verdict is the claim's direction (a claim whose ratio is within "
            f"{FACTOR:g}x of 1 claims no difference, which an interval within {FACTOR:g}x of 1 confirms), {REFUTED} "
            f"when it is another, {NOT_SHOWN} when the run shows neither or stores no rounds")
    return Table(TITLE, header, tuple(rows), note, left=(0, 4, 5))
