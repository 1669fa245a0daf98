"""The regression gate's normalisation, threshold and significance, on hand-made runs whose rounds are known."""
import re

import pytest

from plotting.__main__ import main
from plotting.gate import gate
from plotting.runs import RunError, parse_run
from runschema import LOAD_COLD, SAVE
from tests.plotting_data import rounds_json, write

TIGHT = (1.00, 1.01, 1.02)  # three rounds within 2%: any shift of a few % separates them
BASE = {"pytorch": 0.002, "tensorstore": 0.010, ("ceiling", "write"): 0.001, ("ceiling", "read-cold"): 0.0005}


def make(machine: float = 1.0, factors: dict | None = None, ceiling: bool = True, **kw) -> dict:
    """Every benchmark's rounds: BASE x machine (a slower machine slows everything) x the key's factors (TIGHT)."""
    factors = factors or {}
    rounds = {
        (g, m): [BASE[m] * machine * f for f in factors.get((g, m), TIGHT)]
        for m in ("pytorch", "tensorstore")
        for g in (SAVE, LOAD_COLD)
    }
    if ceiling:
        rounds |= {key: [BASE[key] * machine * f for f in factors.get(key, TIGHT)] for key in BASE if isinstance(key, tuple)}
    return rounds_json(rounds, **kw)


def verdict(a: dict | list[dict], b: dict | list[dict], **options):
    """The gate of baseline run(s) `a` against current run(s) `b`."""
    def side(runs, name):
        return [parse_run(r, f"{name}{i}.json") for i, r in enumerate(runs if isinstance(runs, list) else [runs])]

    return gate(side(a, "a"), side(b, "b"), **options)


def regressed(v) -> list[tuple[str, str]]:
    return [(c.method, c.group) for c in v.regressions]


def test_identical_runs_pass_and_every_method_and_operation_is_compared():
    v = verdict(make(), make())
    assert v.normalize == "ceiling"
    assert [(c.method, c.group) for c in v.comparisons] == [
        ("pytorch", SAVE), ("tensorstore", SAVE), ("pytorch", LOAD_COLD), ("tensorstore", LOAD_COLD)
    ]
    assert regressed(v) == [] and {c.slowdown for c in v.comparisons} == {0.0}
    assert {c.change.verdict for c in v.comparisons} == {"same"}
    assert all(c.change.low < 1 < c.change.high and not c.change.paired for c in v.comparisons)


def test_a_machine_slower_as_a_whole_is_normalised_away():
    slower = make(machine=1.6)  # every round, ceiling included, 60% slower and fully separated
    assert regressed(verdict(make(), slower)) == []
    assert len(regressed(verdict(make(), slower, normalize="none"))) == 4  # absolute times would cry wolf
    slowdowns = [c.slowdown for c in verdict(make(), slower, normalize="pytorch").comparisons]
    assert slowdowns == [pytest.approx(0.0)] * 2


def test_normalised_rounds_are_the_rounds_over_the_references_median():
    v = verdict(make(), make(factors={(SAVE, "tensorstore"): (1.5, 1.6, 1.7)}))
    c = next(c for c in v.comparisons if (c.method, c.group) == ("tensorstore", SAVE))
    assert c.baseline == pytest.approx(0.0101 / 0.00101)  # median round / median ceiling write
    assert c.current == pytest.approx(0.016 / 0.00101)
    assert c.slowdown == pytest.approx(0.016 / 0.0101 - 1)
    assert (c.baseline_ms, c.current_ms) == (pytest.approx(10.1), pytest.approx(16.0))
    by_pytorch = verdict(make(), make(factors={(SAVE, "tensorstore"): (1.5, 1.6, 1.7)}), normalize="pytorch")
    c = next(c for c in by_pytorch.comparisons if (c.method, c.group) == ("tensorstore", SAVE))
    assert c.current == pytest.approx(0.016 / 0.00202)
    assert "pytorch" not in {c.method for c in by_pytorch.comparisons}  # the reference is not gated


def test_a_big_slowdown_whose_rounds_overlap_passes():
    spread = (0.7, 1.0, 1.8)
    b = make(factors={(SAVE, "tensorstore"): (0.9, 1.6, 2.4)})  # median +60%, but a round is faster than one of A's
    a = make(factors={(SAVE, "tensorstore"): spread})
    v = verdict(a, b)
    c = next(c for c in v.comparisons if c.method == "tensorstore" and c.group == SAVE)
    assert c.slowdown == pytest.approx(0.6) and c.p > 0.05
    assert regressed(v) == []


def test_a_moderate_slowdown_with_separated_rounds_fails_above_the_threshold_only():
    b = make(factors={(LOAD_COLD, "pytorch"): (1.30, 1.31, 1.32)})  # +29.7%, every round slower
    v = verdict(make(), b)
    c = next(c for c in v.comparisons if c.method == "pytorch" and c.group == LOAD_COLD)
    assert c.slowdown == pytest.approx(1.31 / 1.01 - 1) and c.p == pytest.approx(0.05)
    assert regressed(v) == [("pytorch", LOAD_COLD)]
    assert regressed(verdict(make(), b, max_slowdown=0.30)) == []
    b = make(factors={(LOAD_COLD, "pytorch"): (1.20, 1.21, 1.22)})  # +19.8%: separated, but under 25%
    v = verdict(make(), b)
    assert regressed(v) == []
    c = next(c for c in v.comparisons if c.method == "pytorch" and c.group == LOAD_COLD)
    # the interval shows the slowdown, and the gate's threshold still decides: reported, not failed
    assert c.change.verdict == "slower" and 1.1 < c.change.low < c.change.ratio == pytest.approx(1 + c.slowdown)


def test_the_rounds_must_show_the_slowdown_beyond_the_threshold_not_just_any_difference():
    b = make(factors={(SAVE, "tensorstore"): (1.26, 1.31, 1.40)})  # +29.7%, every round slower than every baseline
    c = next(c for c in verdict(make(), b).comparisons if (c.method, c.group) == ("tensorstore", SAVE))
    assert c.slowdown > 0.25 and c.p > 0.05  # but 1.26 is within 25% of the baseline's 1.01 and 1.02
    assert regressed(verdict(make(), b)) == []


def test_three_rounds_a_side_reach_p_0_05_only_when_every_current_round_is_slower():
    separated = make(factors={(SAVE, "pytorch"): (2.0, 2.1, 2.2)})
    assert regressed(verdict(make(), separated)) == [("pytorch", SAVE)]
    one_faster = make(factors={(SAVE, "pytorch"): (1.005, 2.1, 2.2)})
    assert regressed(verdict(make(), one_faster)) == []
    with pytest.raises(RunError, match="3 and 3 rounds: .*p <= 0.04; .*--benchmark-min-rounds=4 or more"):
        verdict(make(), separated, alpha=0.04)  # a gate that could never fail is refused


def test_auto_uses_the_reference_every_run_has():
    assert verdict(make(), make(ceiling=False)).normalize == "pytorch"
    assert verdict(make(ceiling=False), make()).normalize == "pytorch"
    assert verdict(make(), make()).normalize == "ceiling"  # equally steady: the hardware's own


def test_auto_uses_the_reference_that_moves_least_between_the_runs():
    ceiling_jumps = make(factors={("ceiling", "write"): (2.8, 2.9, 3.0)})  # a 1 MB write's fsync: 1 ms or 3 ms
    v = verdict(make(), ceiling_jumps)
    assert v.normalize == "pytorch" and regressed(v) == []
    by_ceiling = verdict(make(), ceiling_jumps, normalize="ceiling").comparisons
    assert all(c.slowdown < -0.6 for c in by_ceiling if c.group == SAVE)  # the jump, not the saves, would show
    pytorch_jumps = make(factors={(LOAD_COLD, "pytorch"): (1.6, 1.61, 1.62)})
    assert verdict([make(), make()], [make(), pytorch_jumps]).normalize == "ceiling"


def test_several_runs_a_side_set_the_fastest_current_run_against_the_slowest_baseline_run():
    def run(factor):
        return make(factors={(SAVE, "tensorstore"): tuple(factor * f for f in TIGHT)})

    bases = [run(1.0), run(1.3), run(1.1)]  # one code, three runs: a noisy machine's spread
    v = verdict(bases, [run(1.7), run(1.75)])
    c = next(c for c in v.comparisons if (c.method, c.group) == ("tensorstore", SAVE))
    assert (c.baseline_source, c.current_source) == ("a1.json", "b0.json")
    assert c.slowdown == pytest.approx(1.7 / 1.3 - 1)
    assert regressed(v) == [("tensorstore", SAVE)]
    assert regressed(verdict(bases, [run(1.7), run(1.5)])) == []  # 1.5 is within 25% of the slowest baseline run
    assert regressed(verdict([run(1.0)], [run(1.5)])) == [("tensorstore", SAVE)]  # one run a side sees no spread


def test_the_command_line_prints_the_regressions_and_exits_1(tmp_path, capsys):
    a = write(tmp_path, make(), "a.json")
    b = write(tmp_path, make(factors={(SAVE, "tensorstore"): (2.0, 2.02, 2.04)}), "b.json")
    assert main(["gate", str(a), str(b)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Regressions"
    assert out[3].split() == ["tensorstore", "save", "10.1", "20.2", "10", "20", "+100.0%", "[+96.1,", "+104.0]",
                              "slower", "0.050", "REGRESSED"]
    assert out[-1].startswith("FAIL: 1 of 4 method/operation pairs regressed: tensorstore save (slower by more than")
    assert out[-1].endswith("; one run a side cannot tell a regression from run-to-run noise: gate directories of "
                            "three runs each to be sure")
    assert main(["gate", str(a), str(b), "--max-slowdown", "150%"]) == 0
    assert capsys.readouterr().out.startswith("ok: none of 4 method/operation pairs regressed")


def test_nothing_regressed_is_one_line_and_exit_0(tmp_path, capsys):
    a, b = write(tmp_path, make(), "a.json"), write(tmp_path, make(machine=3), "b.json")
    assert main(["gate", str(a), str(b)]) == 0
    assert capsys.readouterr().out == (
        "ok: none of 4 method/operation pairs regressed (slower by more than 25% after normalising by the disk "
        "ceiling, in the median and in the rounds: one-sided Mann-Whitney U p <= 0.05)\n"
    )
    assert main(["gate", str(a), str(b), "--normalize", "pytorch", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Every method and operation") and "pytorch is the reference, not gated" in out


def test_a_directory_is_each_of_its_runs(tmp_path, capsys):
    """pytest-benchmark's storage layout: DIR/<machine>/NNNN_*.json, one file a run."""
    def storage(name: str, factors: list[float]) -> str:
        (machine := tmp_path / name / "Linux-CPython-3.11-64bit").mkdir(parents=True)
        for i, f in enumerate(factors):
            write(machine, make(factors={(SAVE, "tensorstore"): (f, f, f)}),
                  f"000{i}_run.json")
        return str(tmp_path / name)

    base, cur = storage("base", [1.0, 1.3, 1.1]), storage("cur", [1.7, 1.75])
    assert main(["gate", base, cur]) == 1
    out = capsys.readouterr().out
    assert "FAIL: 1 of 4 method/operation pairs regressed: tensorstore save" in out
    assert out.rstrip().endswith("; current: the fastest of 2 runs, baseline: the slowest of 3 runs)")
    assert main(["gate", base, storage("calm", [1.5, 1.6])]) == 0
    assert main(["gate", str(tmp_path / "cur" / "Linux-CPython-3.11-64bit" / "0000_run.json"), cur]) == 0


def _without_rounds(data: dict) -> dict:
    for entry in data["benchmarks"]:
        del entry["stats"]["data"]
    return data


def _one_round(data: dict) -> dict:
    for entry in data["benchmarks"]:
        entry["stats"]["data"] = entry["stats"]["data"][:1]
    return data


BAD = {
    "missing file": (None, "no such run file"),
    "corrupt file": ('{"benchmarks": [', "not valid JSON"),
    "another model": (make(model="small"), "b.json measured model small but .*a.json measured tiny; gate two runs"),
    "other methods": (
        {"benchmarks": [e for e in make()["benchmarks"] if e["param"] != "tensorstore"]},
        "a.json measured load-cold of tensorstore but .*b.json did not; gate two runs of the same --ckpt-methods",
    ),
    "no stored rounds": (_without_rounds(make()), "b.json: save of pytorch has no stored rounds; .*save-data"),
    "one round": (_one_round(make()), "has 3 and 1 rounds: .*--benchmark-min-rounds=3 or more"),
}


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    return captured.err


@pytest.mark.parametrize("current, message", BAD.values(), ids=BAD.keys())
def test_unusable_input_is_one_error_line_and_exit_2(tmp_path, capsys, current, message):
    a = write(tmp_path, make(), "a.json")
    b = tmp_path / "b.json" if current is None else write(tmp_path, current, "b.json")
    assert main(["gate", str(a), str(b)]) == 2
    err = _one_line_error(capsys)
    assert re.search(message, err), err


def test_unusable_directories_are_one_error_line_and_exit_2(tmp_path, capsys):
    a = write(tmp_path, make(), "a.json")
    (tmp_path / "empty").mkdir()
    assert main(["gate", str(a), str(tmp_path / "empty")]) == 2
    assert "empty/: no run files (*.json) under it" in _one_line_error(capsys)
    (mixed := tmp_path / "mixed").mkdir()
    write(mixed, make(), "1.json"), write(mixed, make(model="small"), "2.json")
    assert main(["gate", str(mixed), str(a)]) == 2
    assert re.search(r"2\.json measured model small but .*1\.json measured tiny", _one_line_error(capsys))


@pytest.mark.parametrize(
    "a, b, options, message",
    [
        (make(ceiling=False), make(), ["--normalize", "ceiling"], "a.json lacks the 'ceiling' group for --normalize"),
        (
            {"benchmarks": [e for e in make(ceiling=False)["benchmarks"] if e["param"] != "pytorch"]},
            {"benchmarks": [e for e in make(ceiling=False)["benchmarks"] if e["param"] != "pytorch"]},
            [],
            "no reference in every run to normalise by .*or pass --normalize none",
        ),
        (make(), make(), ["--max-slowdown", "fast"], "'fast' is not a percentage above 0"),
        (make(), make(), ["--max-slowdown", "0%"], "'0%' is not a percentage above 0"),
        (make(), make(), ["--alpha", "5"], "'5' is not a significance level between 0 and 1"),
        (make(), make(), ["--normalize", "disk"], "invalid choice: 'disk'"),
    ],
    ids=["no ceiling", "no reference", "bad threshold", "zero threshold", "bad alpha", "bad normalize"],
)
def test_impossible_options_are_one_error_line_and_exit_2(tmp_path, capsys, a, b, options, message):
    paths = [str(write(tmp_path, a, "a.json")), str(write(tmp_path, b, "b.json"))]
    assert main(["gate", *paths, *options]) == 2
    err = _one_line_error(capsys)
    assert re.search(message, err), err


def test_a_missing_argument_is_one_error_line(capsys):
    assert main(["gate", "a.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the following arguments are required: CURRENT (see") and err.count("\n") == 1


def test_help_still_works_for_the_report_and_the_gate(capsys):
    for argv in (["--help"], ["gate", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "python -m plotting gate --help" in out and "--max-slowdown PCT" in out
