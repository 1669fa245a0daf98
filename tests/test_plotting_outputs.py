"""The 6-panel figure, the pygal SVG and comparison.md, inspected as objects and as the files the CLI writes."""
import xml.etree.ElementTree as ET

import matplotlib.image
import pytest

from plotting import analysis
from plotting.__main__ import main
from plotting.figures import performance_figure
from plotting.runs import LOAD_COLD, LOAD_WARM, SAVE, load_runs, parse_run
from plotting.svg import performance_svg
from tests.plotting_data import SIX, TINY, keep, seed_json, tiny_json

SVG = "{http://www.w3.org/2000/svg}"
TITLES = [
    "Save time", "Load time", "Size on disk", "Improvement vs TensorStore baseline", "Efficiency vs the disk ceiling",
    "Peak memory per operation",
]
LABELS = ["PyTorch", "TensorStore (baseline)", "T5X", "TS + concurrency", "TS + large chunks", "TS + compression"]


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def _bar_ends(ax) -> list[float]:
    return [p.get_x() + p.get_width() for p in ax.patches]


def test_the_figure_has_the_seeds_four_panels_then_efficiency_and_memory(run):
    fig = performance_figure(run)
    assert len(fig.axes) == 6
    assert [ax.get_title(loc="left") for ax in fig.axes] == TITLES
    assert [ax.get_xlabel() for ax in fig.axes[:4]] == [
        "median time per save (ms)", "median time per load (ms)", "size on disk (MiB, allocated blocks)",
        "% less time than TensorStore (positive = faster)",
    ]
    assert "6 methods" in fig._suptitle.get_text()


def test_the_bars_are_the_medians_with_the_rounds_spread(run):
    ax_save, ax_load, ax_size, ax_imp, _, _ = performance_figure(run).axes
    assert [t.get_text() for t in ax_save.get_yticklabels()] == LABELS
    assert _bar_ends(ax_save) == pytest.approx([run.get(SAVE, m).median * 1000 for m in SIX])
    assert _bar_ends(ax_load) == pytest.approx([run.get(g, m).median * 1000 for g in (LOAD_COLD, LOAD_WARM) for m in SIX])
    assert _bar_ends(ax_size) == pytest.approx([analysis.disk_bytes(run, m) / 2**20 for m in SIX])
    others = [m for m in SIX if m != "tensorstore"]
    assert _bar_ends(ax_imp) == pytest.approx([analysis.time_improvement(run, g, m) for g in (SAVE, LOAD_COLD) for m in others])
    whiskers = [c for c in ax_save.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(whiskers) == 6
    (segment,) = whiskers[0].lines[2][0].get_segments()  # PyTorch's: from q1 to q3
    assert [x for x, _ in segment] == pytest.approx([run.get(SAVE, "pytorch").low * 1000, run.get(SAVE, "pytorch").high * 1000])
    assert "+95.3%" in [t.get_text() for t in ax_imp.texts]


def test_missing_pieces_become_messages_not_empty_panels():
    run = parse_run(keep(tiny_json(), lambda b: b["param"] != "tensorstore" and b["group"] != "load-warm"), "subset.json")
    _, ax_load, _, ax_imp, _, _ = performance_figure(run).axes
    assert len(ax_load.patches) == 5  # cold only
    assert not ax_imp.patches and not ax_imp.axison
    assert "improvements need the 'tensorstore' baseline" in ax_imp.texts[0].get_text()


def test_a_run_without_sizes_says_so_in_the_size_panel():
    data = seed_json()
    for entry in data["benchmarks"]:
        del entry["extra_info"]
    _, _, ax_size, _, _, _ = performance_figure(parse_run(data, "seed.json")).axes
    assert not ax_size.patches and "no disk_bytes" in ax_size.texts[0].get_text()


def test_the_svg_is_valid_xml_with_the_six_charts_and_tooltips(run):
    root = ET.fromstring(performance_svg(run))
    charts = root.findall(f"{SVG}svg")
    assert len(charts) == 6 and all("pygal-chart" in c.get("class") for c in charts)
    titles = [c.find(f".//{SVG}text[@class='title plot_title']").text for c in charts]
    assert titles == TITLES
    bars = [[b.find(f"{SVG}title").text for b in c.iter(f"{SVG}g") if b.get("class") == "bar"] for c in charts]
    assert [len(b) for b in bars] == [6, 12, 6, 10, 18, 18]
    assert "T5X: save: median 70.87 ms, interquartile range 69.95 to 72.22 ms, 3 rounds" in bars[0]
    assert "TS + large chunks: save: median 159.91 ms, interquartile range 133.43 to 285.51 ms, 3 rounds " \
           "! IQR 95% of the median" in bars[0]
    assert "T5X: save +32.0% vs tensorstore" in bars[3]
    assert "PyTorch: load-cold: 15.7%" in bars[4]
    assert "TensorStore (baseline): save RSS: 2,318,336 bytes" in bars[5]


def test_the_command_line_writes_the_figure_the_svg_and_the_markdown(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main([str(TINY), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6-Way Comparison Table" in printed and printed.rstrip().endswith(f"wrote {out / 'comparison.md'}")
    assert matplotlib.image.imread(out / "6way_performance_comparison.png").shape[:2] == (2100, 2250)
    assert len(ET.parse(out / "6way_performance_comparison.svg").getroot().findall(f"{SVG}svg")) == 6
    markdown = (out / "comparison.md").read_text()
    assert "## 6-Way Comparison Table" in markdown
    assert "| pytorch | 4.86 | 7.13 | 2.62 | 0.88 | 0.187 | 0.127 |" in markdown
    assert "## Recommendations" in markdown and "- Fastest save: pytorch (4.86 ms" in markdown
    assert "## Efficiency vs the Disk Ceiling" in markdown and "| pytorch | 125.4% | 15.7% | 3.1% |" in markdown
    assert "## Peak Memory per Operation" in markdown and "## Spread of the Rounds (IQR / median)" in markdown


def test_without_run_files_the_newest_stored_run_is_reported(tmp_path, capsys):
    storage = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    storage.mkdir(parents=True)
    (storage / "0001_x.json").write_text(TINY.read_text())
    assert main(["--storage", str(tmp_path / ".benchmarks"), "--out", str(tmp_path / "out")]) == 0
    assert "0001_x.json" in capsys.readouterr().out
