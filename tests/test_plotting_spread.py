"""The rounds' relative spread (IQR / median) per benchmark, flagged "!" exactly when it is over 20%."""
import pytest

from plotting import analysis
from plotting.figures import performance_figure
from plotting.runs import load_runs, parse_run
from runschema import GROUPS, SAVE
from plotting.tables import FLAG, SPREAD_LEGEND, report_text, spread_table
from tests.plotting_data import SIX, TINY, tiny_json


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def test_the_spread_is_iqr_over_median_and_over_20_percent_is_flagged(run):
    table = spread_table(run)
    assert table.header == ("method", "save", "load", "load-warm")
    assert table.rows == (
        ("pytorch", "! 97.1%", "! 34.9%", "10.1%"),
        ("tensorstore", "! 23.4%", "! 32.6%", "17.4%"),
        ("t5x", "3.2%", "! 21.8%", "! 20.1%"),  # 20.066%: just over the line
        ("ts+concurrency", "12.4%", "! 48.1%", "! 451.9%"),
        ("ts+chunks", "! 95.1%", "8.9%", "! 20.8%"),
        ("ts+compression", "! 38.6%", "1.8%", "! 73.7%"),
        ("disk ceiling", "! 28.3%", "! 155.1%", "! 85.3%"),
    )
    assert table.note == SPREAD_LEGEND and SPREAD_LEGEND.startswith("! = the rounds' IQR is over 20% of their median")


def test_the_flag_marks_exactly_the_benchmarks_over_20_percent(run):
    stored = {(b["group"], b["param"]): b["stats"] for b in tiny_json()["benchmarks"]}
    for (group, method), stat in run.stats.items():
        spread = stored[group, method]["iqr"] / stored[group, method]["median"]
        assert stat.relative_iqr == pytest.approx(spread)
        assert analysis.noisy(stat) is (spread > 0.20)


@pytest.mark.parametrize("q3, flagged", [(1.20, False), (1.2000001, True), (1.0, False)])
def test_the_line_is_20_percent_itself_not_flagged(q3, flagged):
    entry = {"group": SAVE, "param": "pytorch", "stats": {"median": 1.0, "q1": 1.0, "q3": q3}}
    load = {**entry, "group": "load-cold"}
    run = parse_run({"benchmarks": [entry, load]}, "hand.json")
    assert analysis.noisy(run.get(SAVE, "pytorch")) is flagged
    assert spread_table(run).rows[0][1].startswith(FLAG) is flagged


def test_without_quartiles_the_spread_is_n_a_and_never_flagged():
    run = parse_run({"benchmarks": [{"group": g, "param": "x", "stats": {"median": 1.0, "min": 0.1, "max": 9}}
                                    for g in GROUPS]}, "minmax.json")
    assert spread_table(run).rows == (("x", "n/a", "n/a", "n/a"),)


def test_the_terminal_report_and_the_figure_carry_the_flag_and_its_legend(run):
    text = report_text(run)
    assert "Spread of the Rounds (IQR / median)" in text and SPREAD_LEGEND in text
    ax_save, ax_load, *_ = performance_figure(run).axes
    labels = [t.get_text() for t in ax_save.texts]
    assert labels == [f"{run.get(SAVE, m).median * 1000:.2f} ms" + (" !" if analysis.noisy(run.get(SAVE, m)) else "")
                      for m in SIX]
    assert labels[2] == "70.87 ms" and labels[0].endswith(" !")
    footnote = " ".join(performance_figure(run)._supxlabel.get_text().split())  # wrapped to the figure's width
    assert "!: the rounds' IQR is over 20% of their median" in footnote
