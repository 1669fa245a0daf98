"""The tables' numbers, from a real tiny run whose medians are known (tests/data/tiny_run.json)."""
import pytest

from plotting import analysis
from plotting.runs import load_runs, parse_run
from runschema import LOAD_COLD, SAVE
from plotting.tables import (
    comparison_table,
    improvement_table,
    memory_table,
    ranking_table,
    recommendations,
    report_markdown,
    report_text,
    requests_table,
    train_table,
)
from tests.plotting_data import TINY, keep, rounds_json, tiny_json, train_json


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def test_comparison_table_shows_the_medians_sizes_and_throughputs(run):
    table = comparison_table(run)
    assert table.title == "6-Way Comparison Table"
    assert table.header == ("method", "save (ms)", "load (ms)", "load-warm (ms)", "size (MiB)", "save GB/s", "load GB/s")
    assert table.rows == (
        ("pytorch", "4.86", "7.13", "2.62", "0.88", "0.187", "0.127"),
        ("tensorstore", "104.25", "19.48", "4.35", "1.01", "0.00872", "0.0466"),
        ("t5x", "70.87", "11.30", "7.21", "0.91", "0.0128", "0.0804"),
        ("ts+concurrency", "58.21", "6.95", "6.09", "1.01", "0.0156", "0.131"),
        ("ts+chunks", "159.91", "9.58", "4.35", "0.98", "0.00568", "0.0948"),
        ("ts+compression", "172.89", "21.47", "32.09", "0.98", "0.00525", "0.0423"),
    )


def test_improvements_are_relative_to_the_tensorstore_medians(run):
    table = improvement_table(run)
    assert table.title == "Improvements vs TensorStore Baseline"
    assert table.header == ("method", "save improvement", "save 95% CI", "save verdict", "load improvement",
                            "load 95% CI", "load verdict")
    assert table.rows == (
        ("pytorch", "+95.3%", "[+88.2, +96.6]", "faster", "+63.4%", "[+60.0, +85.2]", "faster"),
        ("t5x", "+32.0%", "[+17.3, +42.1]", "faster", "+42.0%", "[+33.5, +67.0]", "faster"),
        ("ts+concurrency", "+44.2%", "[+32.4, +58.6]", "faster", "+64.3%", "[+39.3, +75.3]", "faster"),
        ("ts+chunks", "-53.4%", "[-272.5, -3.5]", "slower", "+50.8%", "[+42.8, +65.3]", "faster"),
        ("ts+compression", "-65.8%", "[-188.8, -36.9]", "slower", "-10.2%", "[-20.2, +20.0]", "~"),
    )
    assert "(1 - ratio) x 100" in table.note and "beyond 1.05x" in table.note
    assert analysis.time_improvement(run, SAVE, "ts+chunks") == pytest.approx((104.2488 - 159.9121) / 104.2488 * 100, abs=1e-3)


def test_rankings_order_the_methods_by_median(run):
    assert ranking_table(run, SAVE).rows == (
        ("1", "pytorch", "4.86", "+95.3%", "fastest"),
        ("2", "ts+concurrency", "58.21", "+44.2%", "11.99 [4.81, 14.60] slower"),
        ("3", "t5x", "70.87", "+32.0%", "14.59 [6.73, 17.85] slower"),
        ("4", "tensorstore", "104.25", "baseline", "21.47 [8.49, 29.56] slower"),
        ("5", "ts+chunks", "159.91", "-53.4%", "32.93 [12.03, 80.40] slower"),
        ("6", "ts+compression", "172.89", "-65.8%", "35.60 [15.91, 62.33] slower"),
    )
    load = ranking_table(run, LOAD_COLD).rows
    assert [row[1] for row in load] == ["ts+concurrency", "pytorch", "ts+chunks", "t5x", "tensorstore",
                                        "ts+compression"]
    # the three after the fastest load are not shown to differ from it; the last two are
    assert [row[4].split()[-1] for row in load] == ["fastest", "~", "~", "~", "slower", "slower"]


def test_equal_medians_share_a_rank():
    assert analysis.ranked({"a": 2.0, "b": 1.0, "c": 2.0, "d": 3.0}) == [(1, "b"), (2, "a"), (2, "c"), (4, "d")]


def test_recommendations_come_from_the_data_with_their_numbers(run):
    assert recommendations(run) == [
        "Fastest save: pytorch (4.86 ms, 95.3% faster than tensorstore; faster than ts+concurrency: "
        "0.083 [0.069, 0.21]); runner-up ts+concurrency (58.21 ms, 44.2% faster than tensorstore)",
        "Fastest load: ts+concurrency (6.95 ms, 64.3% faster than tensorstore; no difference shown from pytorch: "
        "0.97 [0.90, 2.79]); runner-up pytorch (7.13 ms, 63.4% faster than tensorstore)",
        "Smallest on disk: pytorch (0.88 MiB, 13.2% smaller than tensorstore); "
        "runner-up t5x (0.91 MiB, 9.3% smaller than tensorstore)",
        "Best save+load balance (geometric mean of save and load time, each relative to the fastest): "
        "pytorch (save 4.86 ms, load 7.13 ms: 1.01x); runner-up ts+concurrency (save 58.21 ms, load 6.95 ms: 3.46x)",
    ]


def test_text_tables_align_like_the_seed(run):
    lines = improvement_table(run).text().splitlines()
    assert lines[:4] == [
        "Improvements vs TensorStore Baseline",
        "method          save improvement      save 95% CI  save verdict  load improvement     load 95% CI  "
        "load verdict",
        "-" * 111,
        "pytorch                   +95.3%   [+88.2, +96.6]  faster                  +63.4%  [+60.0, +85.2]  faster",
    ]


def test_the_report_holds_every_table_and_the_markdown_too(run):
    text, markdown = report_text(run), report_markdown(run)
    for title in ("6-Way Comparison Table", "Improvements vs TensorStore Baseline", "The original guide's claims",
                  "Ranking by Save Performance", "Ranking by Load Performance", "Verdicts", "Recommendations"):
        assert title in text and f"## {title}" in markdown
    headline = "tiny · float32 · cpu · durability fsync · 21 tensors · 887.25 KiB of weights · tiny_run.json"
    assert text.startswith(f"ckpt-bench run: {headline}\n")
    assert "| ts+chunks | 159.91 | 9.58 | 4.35 | 0.98 | 0.00568 | 0.0948 |" in markdown
    assert "| 2 | ts+concurrency | 58.21 | +44.2% | 11.99 [4.81, 14.60] slower |" in markdown
    assert "| :--- | ---: | ---: | :--- | ---: | ---: | :--- |" in markdown
    assert "| load-cold | ts+compression | tensorstore | 1.10 | [0.80, 1.20] | no difference shown | 3 unpaired |" \
        in markdown


def test_without_the_baseline_improvements_say_so_and_the_rest_still_shows():
    run = parse_run(keep(tiny_json(), lambda b: b["param"] != "tensorstore"), "subset.json")
    table = improvement_table(run)
    assert table.rows == () and "improvements need the 'tensorstore' baseline" in table.note
    assert [row[1] for row in ranking_table(run, SAVE).rows] == ["pytorch", "ts+concurrency", "t5x", "ts+chunks", "ts+compression"]
    assert {row[3] for row in ranking_table(run, SAVE).rows} == {"n/a"}
    assert recommendations(run)[0] == ("Fastest save: pytorch (4.86 ms; faster than ts+concurrency: 0.083 "
                                       "[0.069, 0.21]); runner-up ts+concurrency (58.21 ms)")
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
    assert improvement_table(run).rows == (("mine", "+50.0%", "n/a", "~", "n/a", "n/a", "n/a"),)
    # without rounds no difference can be shown, and the recommendation says why
    assert recommendations(run)[0] == ("Fastest save: mine (1000.0 ms, 50.0% faster than tensorstore; no difference "
                                       "shown from tensorstore: 0.50, the run stores no rounds); runner-up tensorstore "
                                       "(2000.0 ms)")
    assert recommendations(run)[2] == "Smallest on disk: n/a (the run stores no disk_bytes)"
    assert run.label("mine") == "mine"


def _with_anon(data: dict, anon) -> dict:
    """The tiny run as a newer version stores it: anon(entry index, entry) bytes in peak_anon_bytes, None: absent."""
    for i, entry in enumerate(data["benchmarks"]):
        if (value := anon(i, entry)) is not None:
            entry["extra_info"]["peak_anon_bytes"] = value
    return data


def test_the_memory_table_puts_the_anonymous_peak_beside_the_rss_peak():
    run = parse_run(_with_anon(tiny_json(), lambda i, e: (i + 1) * 2**18), "anon.json")
    table = memory_table(run)
    assert table.header == ("method", "save RSS", "save anon", "load RSS", "load anon", "load-warm RSS", "load-warm anon")
    assert table.title == "Peak Memory per Operation (MiB)"
    # pytorch's save, load-cold, load-warm are entries 3, 4, 5: 1.00, 1.25, 1.50 MiB anonymous
    assert table.rows[0] == ("pytorch", "0.27", "1.00", "0.89", "1.25", "0.88", "1.50")
    assert "anon: anonymous memory only" in table.note
    lines = table.text().splitlines()
    assert lines[1] == "method          save RSS  save anon  load RSS  load anon  load-warm RSS  load-warm anon"
    assert lines[3] == "pytorch             0.27       1.00      0.89       1.25           0.88            1.50"
    assert max(len(line) for line in lines[:9]) <= 90  # narrow enough for a terminal: the unit is in the title


def test_runs_stored_before_the_anonymous_peak_show_a_dash_and_a_missing_benchmark_n_a():
    old = parse_run(tiny_json(), "old.json")  # stored before peak_anon_bytes existed
    assert {row[2] for row in memory_table(old).rows} == {"-"} and memory_table(old).rows[0][1] == "0.27"
    assert "- where the run was stored before ckpt-bench measured it" in memory_table(old).note
    mixed = _with_anon(tiny_json(), lambda i, e: 2**20 if e["group"] == "save" else None)  # e.g. merged files
    no_warm = keep(mixed, lambda b: not (b["group"] == "load-warm" and b["param"] == "t5x"))
    rows = {row[0]: row for row in memory_table(parse_run(no_warm, "mixed.json")).rows}
    assert rows["pytorch"][1:] == ("0.27", "1.00", "0.89", "-", "0.88", "-")
    assert rows["t5x"][5:] == ("n/a", "n/a")  # no load-warm benchmark at all: not measured, not "not recorded"
    assert "| pytorch | 0.27 | 1.00 | 0.89 | - | 0.88 | - |" in memory_table(parse_run(mixed, "m.json")).markdown()


def test_the_train_table_gives_each_methods_overhead_over_the_round_without_checkpoints():
    data = train_json(0.5, {("pytorch", "sync"): 0.6, ("pytorch", "async"): 0.55, ("t5x", "sync"): 1.5})
    run = parse_run(data, "train.json")
    table = train_table(run)
    assert table.title == "Training with checkpoints"
    assert table.header == ("method", "sync (ms)", "async (ms)", "sync overhead", "async overhead")
    assert table.rows == (("pytorch", "600.0", "550.0", "+20.0%", "+10.0%"),
                          ("t5x", "1500.0", "n/a", "+200.0%", "n/a"))
    assert table.note.startswith("a round: 20 steps of 512 tokens, a checkpoint every 5, timed as a whole; "
                                 "without checkpoints (none): 500.0 ms\n")
    markdown = report_markdown(run)
    assert "## Training with checkpoints" in markdown and "| pytorch | 600.0 | 550.0 | +20.0% | +10.0% |" in markdown
    assert "Training with checkpoints" in report_text(run)


def test_an_overhead_its_rounds_do_not_resolve_is_marked():
    data = train_json(0.5, {("pytorch", "sync"): 0.51, ("t5x", "sync"): 1.5})
    rounds = {"none": [0.45, 0.5, 0.55, 0.48, 0.52], "pytorch": [0.47, 0.51, 0.56, 0.49, 0.53],
              "t5x": [1.4, 1.5, 1.6, 1.45, 1.55]}
    for b in data["benchmarks"]:
        if b["group"] == "train":
            b["stats"]["data"] = rounds[b["params"]["method"]]
    rows = {r[0]: r for r in train_table(parse_run(data, "train.json")).rows}
    assert rows["pytorch"][3] == "+2.0% (n.s.)" and rows["t5x"][3] == "+200.0%"
    assert "(n.s.): its rounds and those without checkpoints do not differ" in train_table(
        parse_run(data, "train.json")).note


def test_without_the_round_without_checkpoints_the_overheads_are_n_a_and_say_why():
    table = train_table(parse_run(train_json(None, {("pytorch", "sync"): 0.6}), "train.json"))
    assert table.rows == (("pytorch", "600.0", "n/a", "n/a", "n/a"),)
    assert "without checkpoints (none): n/a (overhead needs the train benchmark without checkpoints" in table.note
    assert train_table(parse_run(tiny_json(), "tiny.json")) is None
    assert "Training with checkpoints" not in report_text(parse_run(tiny_json(), "tiny.json"))


def test_the_requests_table_gives_each_operations_requests_and_their_mean_size():
    data = rounds_json({("save", "pytorch"): [1.0], ("load-cold", "pytorch"): [0.5], ("load-warm", "pytorch"): [0.1],
                        ("load-cold", "ts+tuned"): [0.6], ("ceiling", "read-cold"): [0.4]})
    counted = {("save", "pytorch"): (3, 2**21, 90, 360 * 2**20), ("load-cold", "pytorch"): (90, 360 * 2**20, 0, 0),
               ("load-warm", "pytorch"): (0, 0, 0, 0), ("load-cold", "ts+tuned"): (360, 360 * 2**20, 2, 8192),
               ("ceiling", "read-cold"): (80, 320 * 2**20, 0, 0)}
    for b in data["benchmarks"]:
        values = counted[b["group"], b["param"]]
        b["extra_info"].update(zip(("disk_reads", "disk_read_bytes", "disk_writes", "disk_write_bytes"), values))
    table = requests_table(parse_run(data, "requests.json"))
    assert table.header == ("method", "save writes", "save KiB", "load reads", "load KiB", "load-warm reads",
                            "load-warm KiB")
    assert table.rows == (
        ("pytorch", "90", "4,096", "90", "4,096", "0", "n/a"),  # a save counts its writes, a load its reads
        ("ts+tuned", "n/a", "n/a", "360", "1,024", "n/a", "n/a"),
        ("disk ceiling", "n/a", "n/a", "80", "4,096", "n/a", "n/a"),
    )


def test_a_run_without_request_counts_has_no_requests_table(run):
    assert requests_table(run) is None and "Disk Requests" not in report_text(run)
