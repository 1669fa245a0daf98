"""`--compare A B`: B/A per method and operation, fsync (A) against no fsync (B) on the tiny model."""
import json

import matplotlib.image
import pytest

from plotting.__main__ import main
from plotting.compare import check_comparable, compare_figure, compare_table, differences
from plotting.runs import SAVE, RunError, load_runs, parse_run
from tests.plotting_data import TINY, TINY_NOFSYNC, keep, tiny_json, write


@pytest.fixture(scope="module")
def runs():
    return load_runs([TINY]), load_runs([TINY_NOFSYNC])


def _median(path, group, method):
    benchmarks = json.loads(path.read_text())["benchmarks"]
    return next(b["stats"]["median"] for b in benchmarks if (b["group"], b["param"]) == (group, method))


def test_the_table_has_b_over_a_for_every_method_and_operation(runs):
    table = compare_table(*runs)
    assert table.header == ("method", "operation", "A (ms)", "B (ms)", "B/A")
    assert len(table.rows) == 18
    assert table.rows[0] == ("pytorch", "save", "4.86", "2.02", "0.42x")
    assert table.rows[1] == ("tensorstore", "save", "104.25", "17.36", "0.17x")
    ratio = _median(TINY_NOFSYNC, "load-warm", "ts+chunks") / _median(TINY, "load-warm", "ts+chunks")
    assert ("ts+chunks", "load-warm", "4.35", "4.17", f"{ratio:.2f}x") in table.rows


def test_what_differs_between_the_runs_is_named(runs):
    assert differences(*runs) == "durability fsync -> none"


def test_the_figure_draws_the_ratios_around_1x_on_a_log_axis(runs):
    fig = compare_figure(*runs)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    ends = [p.get_x() + p.get_width() for p in ax.patches]
    assert len(ends) == 18 and {p.get_x() for p in ax.patches} == {1.0}  # every bar starts at 1x
    assert ends[0] == pytest.approx(_median(TINY_NOFSYNC, "save", "pytorch") / _median(TINY, "save", "pytorch"))


def test_a_method_in_one_run_only_is_n_a(runs):
    a, _ = runs
    b = parse_run(keep(tiny_json(TINY_NOFSYNC), lambda e: e["param"] != "t5x"), "b.json")
    assert ("t5x", SAVE, "70.87", "n/a", "n/a") in compare_table(a, b).rows


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
    assert "differs: durability fsync -> none" in out and "pytorch         save         4.86    2.02  0.42x" in out
    assert matplotlib.image.imread(tmp_path / "compare.png").ndim == 3
