"""The figures' panels as data: what each shows of a run, its log axes' ticks, and CUDA memory only where measured."""
import pytest

from plotting import analysis, figures, panels, svg
from plotting import compare
from plotting.compare import ratio
from plotting.runs import load_runs, parse_run
from runschema import LOAD_COLD, LOAD_WARM, SAVE
from tests.plotting_data import SIX, TINY, TINY_NOFSYNC, tiny_json, train_json

TITLES = [
    "Save time", "Load time", "Size on disk", "Improvement vs TensorStore baseline", "Efficiency vs the disk ceiling",
    "Peak RSS per operation",
]


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def cuda_run():
    data = tiny_json()
    for i, entry in enumerate(data["benchmarks"]):
        entry["extra_info"]["peak_cuda_bytes"] = (i + 1) * 2**20
    return parse_run(data, "cuda.json")


def test_a_cpu_run_has_six_panels_and_no_cuda_memory(run):
    charts = panels.performance_panels(run)
    assert [p.title for p in charts] == TITLES
    assert [[s.name for s in p.series] for p in charts] == [
        ["save"], ["load (cold)", "load (warm)"], ["size"], ["save", "load (cold)"],
        ["save", "load (cold)", "load (warm)"], ["save", "load (cold)", "load (warm)"],
    ]
    assert charts[0].categories == ("PyTorch", "TensorStore (baseline)", "T5X", "TS + concurrency",
                                    "TS + large chunks", "TS + compression")


def test_the_time_panels_are_log_scaled_from_a_tick_below_the_fastest_bar(run):
    save, load, *_ = panels.performance_panels(run)
    for panel, groups in ((save, (SAVE,)), (load, (LOAD_COLD, LOAD_WARM))):
        medians = [run.get(g, m).median * 1000 for g in groups for m in SIX]
        assert panel.scale == panels.LOG and panel.origin == panel.ticks[0]
        assert [v for s in panel.series for v in s.values] == pytest.approx(medians)
        lows = [low for s in panel.series for low, _ in filter(None, s.spreads)]
        highs = [high for s in panel.series for _, high in filter(None, s.spreads)]
        assert panel.ticks[0] < min(medians + lows) and panel.ticks[-1] >= max(medians + highs)
    assert [save.tick_format(t) for t in save.ticks] == ["1 ms", "10 ms", "100 ms", "1 s"]
    assert save.series[0].texts[2] == "70.87 ms" and save.series[0].texts[0] == "4.86 ms !"


def test_peak_memory_is_one_panel_per_kind_and_cuda_only_where_measured(run):
    rss = panels.performance_panels(run)[-1]
    assert [v for s in rss.series for v in s.values] == pytest.approx(
        [analysis.peak(run, g, m, "peak_rss_bytes") / 2**20 for g in (SAVE, LOAD_COLD, LOAD_WARM) for m in SIX])
    charts = panels.performance_panels(cuda_run())
    assert [p.title for p in charts[-2:]] == ["Peak RSS per operation", "Peak CUDA memory per operation"]
    cuda = charts[-1]
    assert [s.values[0] for s in cuda.series] == [4.0, 5.0, 6.0]  # pytorch's save, load-cold, load-warm (MiB)
    assert cuda.series[0].tooltips[0] == "save CUDA: 4,194,304 bytes"


def test_the_improvement_panel_draws_each_ratios_interval_and_pales_the_bars_that_show_no_difference(run):
    panel = panels.improvement_panel(run)
    others = [m for m in SIX if m != "tensorstore"]
    for series, group in zip(panel.series, (SAVE, LOAD_COLD)):
        ratios = [analysis.versus(run, group, m) for m in others]
        assert series.values == tuple(r.improvement for r in ratios)
        assert series.spreads == tuple(r.improvements for r in ratios)  # (1 - ratio) x 100 of the interval's ends
        assert all(low < value < high for value, (low, high) in zip(series.values, series.spreads))
        assert series.pale == tuple(r.verdict == "same" for r in ratios)
    assert panel.series[1].pale == (False, False, False, False, True)  # ts+compression's load: -10.2% [-20.2, +20.0]
    assert panel.series[1].tooltips[4] == "load (cold) -10.2% [-20.2, +20.0] vs tensorstore: no difference shown"
    assert "whiskers: 95% CI; pale: no difference shown (the interval spans 0" in panel.axis_label


@pytest.mark.parametrize("low, high, ticks", [
    (1.3, 285, (1, 10, 100, 1000)),  # over two decades: decades only
    (327, 17000, (200, 500, 1000, 2000, 5000, 10000, 20000)),  # shorter: 1-2-5
    (3.0, 3.5, (2, 5)),
    (0.06, 0.3, (0.05, 0.1, 0.2, 0.5)),
])
def test_log_ticks_enclose_the_range_at_1_2_5_or_decades(low, high, ticks):
    assert panels.log_ticks(low, high) == pytest.approx(ticks)


def test_time_and_ratio_ticks_read_as_such():
    assert [panels.time_label(ms) for ms in (0.5, 1, 20, 1000, 20000)] == ["0.5 ms", "1 ms", "20 ms", "1 s", "20 s"]
    assert [panels.ratio_label(r) for r in panels.ratio_ticks(0.3, 2.2)] == [
        "0.25x", "0.5x", "0.67x", "1x", "1.5x", "2x", "4x"]
    assert panels.ratio_ticks(0.95, 1.05) == pytest.approx((2 / 3, 1, 1.5))  # a narrow range still gets three


def test_the_compare_panel_has_the_ratios_around_1x_with_ticks_covering_them():
    a, b = load_runs([TINY]), load_runs([TINY_NOFSYNC])
    panel = compare.panel(a, b)
    assert [s.name for s in panel.series] == ["save", "load (cold)", "load (warm)"]
    assert panel.series[0].values[0] == pytest.approx(ratio(a, b, SAVE, "pytorch"))
    ratios = [v for s in panel.series for v in s.values]
    assert panel.ticks[0] <= min(ratios) and panel.ticks[-1] >= max(ratios)
    assert (panel.scale, panel.origin, panel.reference) == (panels.LOG, 1.0, 1.0)
    assert compare.heading(a, b)[:2] == ["A: tiny_run.json", "B: tiny_run_nofsync.json"]


def test_the_train_panel_shows_each_methods_overhead_in_both_modes_around_0():
    run = parse_run(train_json(0.5, {("pytorch", "sync"): 0.6, ("pytorch", "async"): 0.45,
                                     ("t5x", "sync"): 1.5, ("t5x", "async"): 0.75}), "train.json")
    (panel,) = [p for p in panels.performance_panels(run) if p.title == "Training with checkpoints"]
    assert panel.categories == ("pytorch", "t5x")
    assert [s.name for s in panel.series] == ["sync checkpoints", "async checkpoints"]
    assert [s.values for s in panel.series] == [pytest.approx((20.0, 200.0)), pytest.approx((-10.0, 50.0))]
    assert panel.series[1].texts == ("-10.0%", "+50.0%")
    assert panel.series[0].tooltips[0] == "sync checkpoints: +20.0%, round 600.0 ms vs 500.0 ms"
    assert (panel.scale, panel.reference) == (panels.LINEAR, 0.0)
    assert "a round: 20 steps of 512 tokens, a checkpoint every 5" in panel.axis_label
    assert all(p.title != "Training with checkpoints" for p in panels.performance_panels(load_runs([TINY])))


def test_the_train_panel_is_drawn_by_matplotlib_and_pygal():
    run = parse_run(train_json(0.5, {("pytorch", "sync"): 0.6, ("pytorch", "async"): 0.45}), "train.json")
    figure = figures.performance_figure(run)
    assert "Training with checkpoints" in [ax.get_title(loc="left") for ax in figure.axes]
    assert "Training with checkpoints" in svg.performance_svg(run)
