"""`--compare A B`: B/A per method and operation, fsync (A) against no fsync (B) on the tiny model."""
import json

import matplotlib.image
import pytest

from plotting.__main__ import main
from plotting.compare import change, check_comparable, compare_figure, compare_table, differences, ratio
from plotting.runs import RunError, load_runs, parse_run
from runschema import GENERATION, SAVE
from tests.plotting_data import TINY, TINY_NOFSYNC, keep, tiny_json, write


@pytest.fixture(scope="module")
def runs():
    return load_runs([TINY]), load_runs([TINY_NOFSYNC])


def _median(path, group, method):
    benchmarks = json.loads(path.read_text())["benchmarks"]
    return next(b["stats"]["median"] for b in benchmarks if (b["group"], b["param"]) == (group, method))


def test_the_table_has_b_over_a_for_every_method_and_operation(runs):
    table = compare_table(*runs)
    assert table.header == ("method", "operation", "A (ms)", "A IQR", "B (ms)", "B IQR", "B/A", "95% CI", "verdict")
    assert len(table.rows) == 18
    assert table.rows[0] == ("pytorch", "save", "4.86", "! 97.1%", "2.02", "! 306.8%", "0.42x !", "[0.15, 2.40]",
                             "no difference shown")
    assert table.rows[1][:7] == ("tensorstore", "save", "104.25", "! 23.4%", "17.36", "! 20.6%", "0.17x !")
    assert table.rows[1][8] == "faster"  # every round of B's fsync-free save is faster than every one of A's
    ratio = _median(TINY_NOFSYNC, "load-warm", "ts+chunks") / _median(TINY, "load-warm", "ts+chunks")
    row = next(r for r in table.rows if r[:2] == ("ts+chunks", "load-warm"))
    assert (row[2], row[4], row[6].split()[0]) == ("4.35", "4.17", f"{ratio:.2f}x")


def test_b_over_a_has_an_unpaired_interval_around_it_and_its_verdict(runs):
    a, b = runs
    for group, method in ((SAVE, "t5x"), (SAVE, "pytorch"), ("load-cold", "ts+chunks")):
        r = change(a, b, group, method)
        assert not r.paired and r.low < ratio(a, b, group, method) == r.ratio < r.high
        assert r.ratio == pytest.approx(b.get(group, method).median / a.get(group, method).median)
    assert change(a, b, SAVE, "t5x").verdict == "faster" and change(a, b, SAVE, "pytorch").verdict == "same"
    assert change(a, b, "load-cold", "ts+chunks").verdict == "slower"


def test_what_differs_between_the_runs_is_named(runs):
    assert differences(*runs) == "durability fsync -> none"


def test_the_figure_draws_the_ratios_around_1x_on_a_log_axis(runs):
    fig = compare_figure(*runs)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    ends = [p.get_x() + p.get_width() for p in ax.patches]
    assert len(ends) == 18 and {p.get_x() for p in ax.patches} == {1.0}  # every bar starts at 1x
    assert ends[0] == pytest.approx(_median(TINY_NOFSYNC, "save", "pytorch") / _median(TINY, "save", "pytorch"))


def test_the_ratio_axis_labels_ticks_across_the_ratios_range(runs):
    fig = compare_figure(*runs)
    fig.draw_without_rendering()
    (ax,) = fig.axes
    low, high = ax.get_xlim()
    labelled = {t.get_text(): t.get_position()[0] for t in ax.get_xticklabels() if t.get_text()}
    # down to 0.025x: the interval of ts+chunks' save, 0.039x to 0.20x
    assert list(labelled) == ["0.025x", "0.05x", "0.1x", "0.25x", "0.5x", "0.67x", "1x", "1.5x", "2x", "4x", "10x"]
    assert all(low <= x <= high for x in labelled.values())
    ends = [p.get_x() + p.get_width() for p in ax.patches]
    whiskers = [x for c in ax.containers if type(c).__name__ == "ErrorbarContainer"
                for segment in c.lines[2][0].get_segments() for x, _ in segment]
    assert len(whiskers) == 2 * 18
    assert min(labelled.values()) <= min(ends + whiskers) and max(labelled.values()) >= max(ends + whiskers)
    assert fig._suptitle.get_text().splitlines()[:2] == ["A: tiny_run.json", "B: tiny_run_nofsync.json"]


def test_a_method_in_one_run_only_is_n_a(runs):
    a, _ = runs
    b = parse_run(keep(tiny_json(TINY_NOFSYNC), lambda e: e["param"] != "t5x"), "b.json")
    assert ("t5x", SAVE, "70.87", "3.2%", "n/a", "n/a", "n/a", "n/a", "n/a") in compare_table(a, b).rows


def test_runs_of_two_models_are_not_compared(tmp_path, capsys):
    data = tiny_json(TINY_NOFSYNC)
    for entry in data["benchmarks"]:
        entry["extra_info"]["model"] = "small"
    other = write(tmp_path, data, "small.json")
    with pytest.raises(RunError, match="measured model 'small' but .* measured 'tiny'"):
        check_comparable(load_runs([TINY]), load_runs([other]))
    assert main(["--compare", str(TINY), str(other), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_command_line_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    assert main(["--compare", str(TINY), str(TINY_NOFSYNC), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "differs: durability fsync -> none" in out and "pytorch         save         4.86   ! 97.1%    2.02  ! 306.8%  0.42x !" in out
    assert matplotlib.image.imread(tmp_path / "compare.png").ndim == 3


def test_runs_whose_timings_mean_different_things_are_not_compared(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(GENERATION, 3, 2)
    data = tiny_json(TINY_NOFSYNC)
    for entry in data["benchmarks"]:
        entry["extra_info"]["schema_version"] = 3
    newer = write(tmp_path, data, "newer.json")
    assert main(["--compare", str(TINY), str(newer), "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "schema generations 1 and 2" in line
