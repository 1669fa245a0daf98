"""Ratios, their intervals and verdicts (plotting.verdicts) on hand-made rounds whose true ratio is known, and where
the reports show them: comparison.json, --reference, the original guide's claims."""
import json
import warnings

import pytest

import runschema
from plotting import verdicts
from plotting.__main__ import main
from plotting.claims import CONFIRMED, NOT_SHOWN, REFUTED, claimed, claims_table, outcome
from plotting.references import comparisons
from plotting.runs import RunError, load_runs, parse_run
from plotting.tables import report_markdown, report_text
from plotting.verdicts import FACTOR, FASTER, SAME, SLOWER, Ratio, compare, ratio_of, verdict
from tests.plotting_data import SIX, TINY, keep, rounds_json, seed_json, tiny_json, with_order

# a deterministic +-1% jitter, and a machine whose speed drifts between rounds by far more
NOISE = (0.004, -0.006, 0.009, -0.002, 0.007, -0.009, 0.001, 0.005, -0.004, -0.008)
DRIFT = (1.0, 1.6, 0.7, 1.3, 0.9, 1.5, 0.8, 1.2, 1.1, 0.6)


def rounds(factor: float, drift=(1.0,) * 10, noise=NOISE) -> list[float]:
    """Ten rounds of 10 ms x factor x the machine's drift, each with its jitter."""
    return [0.01 * factor * d * (1 + e) for d, e in zip(drift, noise)]


def drifting(order: str) -> dict:
    """A run in which one method takes 1.2x the reference's time, both slowed alike by the drift, in `order`."""
    slow, ref = rounds(1.2, DRIFT), rounds(1.0, DRIFT, NOISE[::-1])
    return with_order(rounds_json({(g, m): data for g in ("save", "load-cold")
                                   for m, data in (("slow", slow), ("ref", ref))}), order)


@pytest.mark.parametrize("paired", [False, True], ids=["unpaired", "paired"])
@pytest.mark.parametrize("factor", [0.5, 1.2, 2.0])
def test_the_interval_contains_the_known_ratio(factor, paired):
    r = ratio_of(rounds(factor), rounds(1.0, noise=NOISE[::-1]), paired)
    assert r.low < factor < r.high and r.low < r.ratio < r.high
    assert r.high / r.low < 1.05  # 1% jitter: a narrow interval
    assert r.paired is paired and r.n == 10


@pytest.mark.parametrize("factor, expected", [(2.0, SLOWER), (1.2, SLOWER), (0.5, FASTER), (1.0, SAME)])
def test_the_verdict_calls_a_clear_difference_either_way(factor, expected):
    for paired in (False, True):
        assert ratio_of(rounds(factor), rounds(1.0, noise=NOISE[::-1]), paired).verdict == expected


def test_a_difference_under_the_factor_is_not_called_however_narrow_its_interval():
    assert FACTOR <= 1.1
    r = ratio_of(rounds(1.03), rounds(1.0), paired=True)
    assert r.low > 1 and r.verdict == SAME
    assert verdict(1.2, 1.1, 1.3) == SLOWER and verdict(1.2, 0.9, 1.5) == SAME
    assert verdict(1 / 1.2, 0.7, 0.9) == FASTER and verdict(1.04, 1.01, 1.07) == SAME


def test_identical_and_constant_samples_give_same_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's DegenerateDataWarning would be one
        same = [ratio_of(rounds(1.0), rounds(1.0), paired) for paired in (False, True)]
        constant = ratio_of([0.01] * 5, [0.01] * 5)
        doubled = ratio_of([0.02] * 5, [0.01] * 5, paired=True)
        one_constant = ratio_of([0.01] * 5, rounds(1.0)[:5])
    assert [r.verdict for r in same] == [SAME, SAME]
    assert same[1].low == same[1].high == same[1].ratio == 1.0  # every pair's ratio is 1: no resample moves it
    assert (constant.ratio, constant.low, constant.high, constant.verdict) == (1.0, 1.0, 1.0, SAME)
    assert (doubled.low, doubled.high, doubled.verdict) == (pytest.approx(2.0), pytest.approx(2.0), SLOWER)
    assert one_constant.low <= one_constant.ratio <= one_constant.high and one_constant.verdict == SAME


def test_without_rounds_only_the_medians_and_no_difference_shown():
    run = parse_run(seed_json(), "guide.json")
    r = compare(run.get("save", "t5x"), run.get("save", "tensorstore"))
    assert (r.ratio, r.low, r.high, r.verdict, r.paired, r.n) == (pytest.approx(66450 / 143118), None, None, SAME,
                                                                 False, 0)
    assert r.improvements is None
    one = ratio_of([0.02], [0.01, 0.011])
    assert (one.ratio, one.low, one.high, one.verdict, one.n) == (pytest.approx(0.02 / 0.0105), None, None, SAME, 0)
    assert compare(None, run.get("save", "t5x")) is None


def test_rounds_pair_only_where_the_stored_positions_say_they_ran_side_by_side():
    interleaved, blocked = (parse_run(drifting(order), f"{order}.json") for order in runschema.ORDERS)
    assert runschema.paired(interleaved.get("save", "slow").record.rounds_at,
                            interleaved.get("save", "ref").record.rounds_at)
    p = compare(interleaved.get("save", "slow"), interleaved.get("save", "ref"))
    u = compare(blocked.get("save", "slow"), blocked.get("save", "ref"))
    assert p.paired and not u.paired
    # the drift, shared by each pair, cancels in the pairs' ratios; the medians carry all of it
    assert p.high / p.low < 1.05 < u.high / u.low
    assert p.low < 1.2 < p.high and p.verdict == SLOWER and u.verdict == SAME
    across = compare(interleaved.get("save", "slow"), interleaved.get("save", "ref"), pair=False)
    assert not across.paired and across.high / across.low > 1.5  # two runs' rounds never pair
    old = load_runs([TINY])  # stored before positions were: unpaired
    assert not compare(old.get("save", "t5x"), old.get("save", "tensorstore")).paired


def test_a_report_is_the_same_every_time_it_is_made():
    slow, ref = rounds(1.2, DRIFT), rounds(1.0, DRIFT, NOISE[::-1])
    first = ratio_of(slow, ref)
    verdicts._interval.cache_clear()
    assert ratio_of(slow, ref) == first


def test_positions_that_are_not_one_per_round_are_a_corrupt_run():
    data = drifting(runschema.INTERLEAVED)
    data["benchmarks"][0]["extra_info"]["rounds_at"] = [0, 1]
    with pytest.raises(RunError, match="save of slow: extra_info.rounds_at is not one position per stored round"):
        parse_run(data, "bad.json")


def test_comparison_json_holds_every_method_against_tensorstore_and_pytorch(tmp_path):
    assert main([str(TINY), "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "comparison.json").read_text())
    assert len(rows) == 3 * 2 * 5  # operations x references x the other methods
    assert set(rows[0]) == {"group", "method", "reference", "ratio", "low", "high", "verdict"}
    others = [m for m in SIX if m != "tensorstore"]
    assert [(r["group"], r["reference"], r["method"]) for r in rows[:10]] == [
        *(("save", "tensorstore", m) for m in others), *(("save", "pytorch", m) for m in SIX if m != "pytorch")]
    assert [r["group"] for r in rows[::10]] == ["save", "load-cold", "load-warm"]  # no ceiling
    run = load_runs([TINY])
    for r in rows:
        expected = compare(run.get(r["group"], r["method"]), run.get(r["group"], r["reference"]))
        assert (r["ratio"], r["low"], r["high"], r["verdict"]) == (expected.ratio, expected.low, expected.high,
                                                                   expected.verdict)
        assert r["low"] <= r["ratio"] <= r["high"]
    markdown = (tmp_path / "comparison.md").read_text()
    assert "## Verdicts" in markdown and markdown.count(" | 3 unpaired |") == 30


def test_reference_names_the_methods_compared_against(tmp_path, capsys):
    assert main([str(TINY), "--out", str(tmp_path), "--reference", "t5x,ts+chunks"]) == 0
    rows = json.loads((tmp_path / "comparison.json").read_text())
    assert [r["reference"] for r in rows[:10]] == ["t5x"] * 5 + ["ts+chunks"] * 5
    assert len(rows) == 30 and all(r["method"] != r["reference"] for r in rows)
    assert "| save | pytorch | t5x | 0.069 | [0.056, 0.15] | faster | 3 unpaired |" in (
        tmp_path / "comparison.md").read_text()
    assert "save       pytorch         t5x" in capsys.readouterr().out  # the printed report's Verdicts table


@pytest.mark.parametrize("argv, message", [
    (["--reference", "nope"], "--reference nope: tiny_run.json has no such method (it has: pytorch, tensorstore,"),
    (["--reference", "t5x,"], "argument --reference: 't5x,' is not a comma-separated list of method ids"),
])
def test_an_unknown_reference_is_one_error_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main([str(TINY), "--out", str(tmp_path), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {message}"), captured.err
    assert not (tmp_path / "comparison.json").exists()


def test_other_method_groups_are_compared_where_their_reference_ran():
    data = rounds_json({(g, m): rounds(f) for g in ("save", "load-cold", "async-stall")
                        for m, f in (("pytorch", 1.0), ("t5x", 0.5))})
    data["benchmarks"] += rounds_json({("async-stall", "ts+tuned"): rounds(2.0)})["benchmarks"]
    run = parse_run(data, "async.json")
    found = [(r.group, r.reference, r.method, r.ratio.verdict) for r in comparisons(run, ("pytorch",))]
    assert found == [("save", "pytorch", "t5x", FASTER), ("load-cold", "pytorch", "t5x", FASTER),
                     ("async-stall", "pytorch", "t5x", FASTER), ("async-stall", "pytorch", "ts+tuned", SLOWER)]
    no_reference = parse_run(keep(data, lambda b: b["param"] != "pytorch"), "none.json")
    assert "n/a: verdicts need a reference method in the run" in report_text(no_reference)


def test_a_claim_is_confirmed_by_its_own_direction_and_a_small_one_only_by_a_narrow_interval():
    assert [claimed(p) for p in (53.6, 4.8, -1.8, -42.0)] == [FASTER, FASTER, SAME, SLOWER]

    def measured(v: str, low: float | None = 0.5, high: float = 2.0) -> Ratio:
        return Ratio(1.0, low, high, v, False, 3)

    assert [outcome(FASTER, measured(v)) for v in (FASTER, SAME, SLOWER)] == [CONFIRMED, NOT_SHOWN, REFUTED]
    assert [outcome(SAME, measured(v)) for v in (SAME, FASTER, SLOWER)] == [NOT_SHOWN, REFUTED, REFUTED]
    assert outcome(SAME, measured(SAME, low=0.97, high=1.04)) == CONFIRMED  # within 1.05x of 1: equivalent
    assert outcome(SAME, measured(SAME, low=None)) == NOT_SHOWN  # no rounds: nothing was shown, nor confirmed


def test_the_claims_table_sets_the_guides_figures_against_the_run():
    run = load_runs([TINY])
    table = claims_table(run)
    assert table.header == ("claim", "guide", "measured", "95% CI", "verdict", "outcome")
    assert table.rows[0] == ("t5x save", "+53.6%", "+32.0%", "[+17.3, +42.1]", "faster", CONFIRMED)
    assert table.rows[1] == ("t5x load-cold", "-67.4%", "+42.0%", "[+33.5, +67.0]", "faster", REFUTED)
    assert table.rows[2][-2:] == ("faster", CONFIRMED)  # ts+concurrency's save: +31.2% claimed
    assert table.rows[-1][-2:] == ("no difference shown", NOT_SHOWN)  # ts+compression's load: -42.0% claimed
    assert "## The original guide's claims" in report_markdown(run)
    assert "The original guide's claims" in report_text(run)
    without = parse_run(keep(tiny_json(), lambda b: b["param"] != "tensorstore"), "subset.json")
    assert claims_table(without) is None and "The original guide's claims" not in report_markdown(without)
    only_t5x = parse_run(keep(tiny_json(), lambda b: b["param"] in ("tensorstore", "t5x")), "t5x.json")
    assert [row[0] for row in claims_table(only_t5x).rows] == ["t5x save", "t5x load-cold"]
