"""Efficiency vs the disk ceiling and peak memory: the tables, the figure's two panels, and runs without them."""
import pytest

from plotting import analysis
from plotting.figures import performance_figure
from plotting.runs import load_runs, parse_run
from runschema import LOAD_COLD, LOAD_WARM, SAVE
from plotting.tables import ceiling_line, efficiency_table, memory_table, report_markdown, report_text
from tests.plotting_data import SIX, TINY, keep, seed_json, tiny_json, write


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def _stored(group, name, key):
    entry = next(b for b in tiny_json()["benchmarks"] if (b["group"], b["param"]) == (group, name))
    return entry["extra_info"][key] if key in entry["extra_info"] else entry["stats"][key]


def test_efficiency_is_the_stored_ceiling_over_method_ratio_in_percent(run):
    table = efficiency_table(run)
    assert table.header == ("method", "save", "load", "load-warm")
    assert table.rows == (
        ("pytorch", "125.4%", "15.7%", "3.1%"),
        ("tensorstore", "5.8%", "5.7%", "1.8%"),
        ("t5x", "8.6%", "9.9%", "1.1%"),
        ("ts+concurrency", "10.5%", "16.1%", "1.3%"),
        ("ts+chunks", "3.8%", "11.7%", "1.8%"),
        ("ts+compression", "3.5%", "5.2%", "0.2%"),
    )
    for group, op in ((SAVE, "write"), (LOAD_COLD, "read-cold"), (LOAD_WARM, "read-warm")):
        for m in SIX:  # what bench/ceiling.py stored is what the ceiling and the method medians give
            expected = _stored("ceiling", op, "median") / _stored(group, m, "median")
            assert analysis.efficiency(run, group, m) == pytest.approx(expected, rel=1e-12)


def test_the_ceiling_line_gives_the_disks_times_and_throughput(run):
    assert ceiling_line(run) == (
        "disk ceiling (the same bytes as one file, or one file per core at once: the faster): "
        "write 6.09 ms = 0.149 GB/s · read-cold 1.12 ms = 0.811 GB/s · read-warm 0.0802 ms = 11.3 GB/s"
    )
    assert analysis.gbps(run.ceiling["write"]) == pytest.approx(_stored("ceiling", "write", "throughput_gbps"))
    assert ceiling_line(run) in efficiency_table(run).note


def test_peak_memory_per_method_and_operation(run):
    table = memory_table(run)
    assert table.title == "Peak Memory per Operation (MiB)"
    assert table.header == ("method", "save RSS", "save anon", "load RSS", "load anon", "load-warm RSS", "load-warm anon")
    # the anonymous peak beside each RSS peak; this run was stored before it was measured: a dash
    assert table.rows[:2] == (("pytorch", "0.27", "-", "0.89", "-", "0.88", "-"),
                              ("tensorstore", "2.21", "-", "0.80", "-", "0.36", "-"))
    assert analysis.peak(run, SAVE, "tensorstore", "peak_rss_bytes") == 2318336
    assert analysis.peak_keys(run) == [("peak_rss_bytes", "RSS")]  # peak_cuda_bytes is None on a CPU run


def test_cuda_peaks_get_columns_when_measured():
    data = tiny_json()
    for i, entry in enumerate(data["benchmarks"]):
        entry["extra_info"]["peak_cuda_bytes"] = (i + 1) * 2**20
    table = memory_table(parse_run(data, "cuda.json"))
    assert table.header[7:] == ("save CUDA", "load CUDA", "load-warm CUDA")  # after RSS and anon
    assert table.rows[0][7:] == ("4.00", "5.00", "6.00")  # pytorch's save, load-cold, load-warm: entries 3, 4, 5
    assert table.rows[0][1] == "0.27"


def test_a_run_without_the_ceiling_or_peaks_says_n_a_and_the_rest_still_shows():
    run = parse_run(keep(tiny_json(), lambda b: b["group"] != "ceiling"), "no-ceiling.json")
    assert run.ceiling == {} and efficiency_table(run).rows == ()
    assert "n/a: the run has no 'ceiling' group" in efficiency_table(run).note
    seed = parse_run(seed_json(), "seed.json")
    assert memory_table(seed).rows == () and memory_table(seed).note == "n/a: the run stores no peak_rss_bytes"
    text = report_text(run)
    assert "6-Way Comparison Table" in text and "n/a: the run has no 'ceiling' group" in text
    _, _, _, _, ax_eff, ax_mem = performance_figure(seed).axes
    assert not ax_eff.patches and "no 'ceiling' group" in ax_eff.texts[0].get_text()
    assert not ax_mem.patches and "no peak_rss_bytes" in ax_mem.texts[0].get_text()


def test_the_figure_draws_efficiency_in_percent_and_peaks_in_the_tables_unit(run):
    *_, ax_eff, ax_mem = performance_figure(run).axes
    ends = [p.get_x() + p.get_width() for p in ax_eff.patches]
    expected = [analysis.efficiency(run, g, m) * 100 for g in (SAVE, LOAD_COLD, LOAD_WARM) for m in SIX]
    assert ends == pytest.approx(expected)
    assert "125.4%" in [t.get_text() for t in ax_eff.texts]
    assert "write 6.09 ms = 0.149 GB/s" in " ".join(ax_eff.get_xlabel().split())  # wrapped to the panel's width
    peaks = [p.get_x() + p.get_width() for p in ax_mem.patches]
    assert peaks == pytest.approx([analysis.peak(run, g, m, "peak_rss_bytes") / 2**20
                                   for g in (SAVE, LOAD_COLD, LOAD_WARM) for m in SIX])


def test_comparison_md_holds_the_new_tables(run):
    markdown = report_markdown(run)
    assert "| ts+chunks | 3.8% | 11.7% | 1.8% |" in markdown
    assert "| tensorstore | 2.21 | - | 0.80 | - | 0.36 | - |" in markdown
    assert "disk ceiling (the same bytes as one file, or one file per core at once: the faster): write 6.09 ms" in markdown


def test_efficiency_comes_from_the_ceiling_in_another_file_when_runs_are_merged(tmp_path):
    def unstored(data):  # a run stored before efficiency existed, or files split by group
        for b in data["benchmarks"]:
            b["extra_info"].pop("efficiency", None)
        return data

    ceiling = write(tmp_path, unstored(keep(tiny_json(), lambda b: b["group"] == "ceiling")), "ceiling.json")
    methods = write(tmp_path, unstored(keep(tiny_json(), lambda b: b["group"] != "ceiling")), "methods.json")
    merged = load_runs([ceiling, methods])
    expected = _stored("ceiling", "write", "median") / _stored(SAVE, "ts+chunks", "median")
    assert analysis.efficiency(merged, SAVE, "ts+chunks") == pytest.approx(expected, rel=1e-12)
    assert analysis.efficiency(load_runs([methods]), SAVE, "ts+chunks") is None
