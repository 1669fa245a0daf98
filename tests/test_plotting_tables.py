"""The tables' numbers, from a real tiny run whose medians are known (tests/data/tiny_run.json)."""
import pytest

from plotting import analysis
from plotting.runs import LOAD_COLD, SAVE, load_runs, parse_run
from plotting.tables import (
    comparison_table,
    improvement_table,
    ranking_table,
    recommendations,
    report_markdown,
    report_text,
)
from tests.plotting_data import TINY, keep, tiny_json


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def test_comparison_table_shows_the_medians_sizes_and_throughputs(run):
    table = comparison_table(run)
    assert table.title == "6-Way Comparison Table"
    assert table.header == ("method", "save (ms)", "load (ms)", "load-warm (ms)", "size (MiB)", "save GB/s", "load GB/s")
    assert table.rows == (
        ("pytorch", "2.51", "2.91", "2.09", "0.88", "0.362", "0.312"),
        ("tensorstore", "40.19", "11.26", "6.61", "1.01", "0.0226", "0.0807"),
        ("t5x", "24.90", "5.66", "4.10", "0.91", "0.0365", "0.161"),
        ("ts+concurrency", "20.50", "5.75", "2.77", "1.01", "0.0443", "0.158"),
        ("ts+chunks", "39.63", "11.18", "7.33", "0.98", "0.0229", "0.0813"),
        ("ts+compression", "49.90", "14.21", "10.09", "0.98", "0.0182", "0.064"),
    )


def test_improvements_are_relative_to_the_tensorstore_medians(run):
    table = improvement_table(run)
    assert table.title == "Improvements vs TensorStore Baseline"
    assert table.rows == (
        ("pytorch", "+93.8%", "+74.2%"),
        ("t5x", "+38.1%", "+49.8%"),
        ("ts+concurrency", "+49.0%", "+49.0%"),
        ("ts+chunks", "+1.4%", "+0.8%"),
        ("ts+compression", "-24.2%", "-26.1%"),
    )
    assert analysis.time_improvement(run, SAVE, "ts+chunks") == pytest.approx((40.1901 - 39.6289) / 40.1901 * 100, abs=1e-3)


def test_rankings_order_the_methods_by_median(run):
    assert ranking_table(run, SAVE).rows == (
        ("1", "pytorch", "2.51", "+93.8%"),
        ("2", "ts+concurrency", "20.50", "+49.0%"),
        ("3", "t5x", "24.90", "+38.1%"),
        ("4", "ts+chunks", "39.63", "+1.4%"),
        ("5", "tensorstore", "40.19", "baseline"),
        ("6", "ts+compression", "49.90", "-24.2%"),
    )
    assert [row[1] for row in ranking_table(run, LOAD_COLD).rows] == [
        "pytorch", "t5x", "ts+concurrency", "ts+chunks", "tensorstore", "ts+compression"
    ]


def test_equal_medians_share_a_rank():
    assert analysis.ranked({"a": 2.0, "b": 1.0, "c": 2.0, "d": 3.0}) == [(1, "b"), (2, "a"), (2, "c"), (4, "d")]


def test_recommendations_come_from_the_data_with_their_numbers(run):
    assert recommendations(run) == [
        "Fastest save: pytorch (2.51 ms, 93.8% faster than tensorstore); "
        "runner-up ts+concurrency (20.50 ms, 49.0% faster than tensorstore)",
        "Fastest load: pytorch (2.91 ms, 74.2% faster than tensorstore); "
        "runner-up t5x (5.66 ms, 49.8% faster than tensorstore)",
        "Smallest on disk: pytorch (0.88 MiB, 13.2% smaller than tensorstore); "
        "runner-up t5x (0.91 MiB, 9.3% smaller than tensorstore)",
        "Best save+load balance (geometric mean of save and load time, each relative to the fastest): "
        "pytorch (save 2.51 ms, load 2.91 ms: 1.00x); runner-up ts+concurrency (save 20.50 ms, load 5.75 ms: 4.02x)",
    ]


def test_text_tables_align_like_the_seed(run):
    lines = improvement_table(run).text().splitlines()
    assert lines[:4] == [
        "Improvements vs TensorStore Baseline",
        "method          save improvement  load improvement",
        "--------------------------------------------------",
        "pytorch                   +93.8%            +74.2%",
    ]


def test_the_report_holds_every_table_and_the_markdown_too(run):
    text, markdown = report_text(run), report_markdown(run)
    for title in ("6-Way Comparison Table", "Improvements vs TensorStore Baseline", "Ranking by Save Performance",
                  "Ranking by Load Performance", "Recommendations"):
        assert title in text and f"## {title}" in markdown
    headline = "tiny · float32 · cpu · durability fsync · 21 tensors · 887.25 KiB of weights · tiny_run.json"
    assert text.startswith(f"ckpt-bench run: {headline}\n")
    assert "| ts+chunks | 39.63 | 11.18 | 7.33 | 0.98 | 0.0229 | 0.0813 |" in markdown
    assert "| 2 | ts+concurrency | 20.50 | +49.0% |" in markdown
    assert "| :--- | ---: | ---: |" in markdown


def test_without_the_baseline_improvements_say_so_and_the_rest_still_shows():
    run = parse_run(keep(tiny_json(), lambda b: b["param"] != "tensorstore"), "subset.json")
    table = improvement_table(run)
    assert table.rows == () and "improvements need the 'tensorstore' baseline" in table.note
    assert [row[1] for row in ranking_table(run, SAVE).rows] == ["pytorch", "ts+concurrency", "t5x", "ts+chunks", "ts+compression"]
    assert {row[3] for row in ranking_table(run, SAVE).rows} == {"n/a"}
    assert recommendations(run)[0] == "Fastest save: pytorch (2.51 ms); runner-up ts+concurrency (20.50 ms)"
    text = report_text(run)
    assert "5-Way Comparison Table" in text and "n/a: improvements need the 'tensorstore' baseline" in text


def test_a_minimal_hand_built_run_degrades_to_n_a():
    run = parse_run(
        {"benchmarks": [
            {"group": "save", "param": "tensorstore", "stats": {"median": 2.0}},
            {"group": "save", "extra_info": {"method": "mine"}, "stats": {"median": 1.0}},
            {"group": "load-cold", "param": "tensorstore", "stats": {"median": 4.0}},
        ]},
        "hand.json",
    )
    assert run.methods == ("tensorstore", "mine")
    assert comparison_table(run).rows == (
        ("tensorstore", "2000.0", "4000.0", "n/a", "n/a", "n/a", "n/a"),
        ("mine", "1000.0", "n/a", "n/a", "n/a", "n/a", "n/a"),
    )
    assert improvement_table(run).rows == (("mine", "+50.0%", "n/a"),)
    assert recommendations(run)[2] == "Smallest on disk: n/a (the run stores no disk_bytes)"
    assert run.label("mine") == "mine"
