"""The figure, the pygal SVG, the sweep heatmaps and comparison.md, inspected as objects and as the files the CLI
writes: both renderers draw the same panels, nothing overlaps or is cut off."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations

import matplotlib.image
import pytest

from plotting import analysis, sweep
from plotting.__main__ import main
from plotting.figures import DPI, PALE_ALPHA, performance_figure
from plotting.panels import performance_panels
from plotting.runs import load_runs, parse_run
from runschema import LOAD_COLD, LOAD_WARM, SAVE
from plotting.svg import PALE_STYLE, performance_svg
from tests.plotting_data import SIX, TINY, keep, seed_json, tiny_json
from tests.test_plotting_panels import TITLES, cuda_run

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ["PyTorch", "TensorStore (baseline)", "T5X", "TS + concurrency", "TS + large chunks", "TS + compression"]
LONG_NAME = "0001_6ac75cc3e8f0c1b2d4a5_20261128_205856_uncommitted-changes-on-node-h200.json"  # 80 characters


@pytest.fixture(scope="module")
def run():
    return load_runs([TINY])


def _bar_ends(ax) -> list[float]:
    return [p.get_x() + p.get_width() for p in ax.patches]


def _words(text: str) -> str:
    return " ".join(text.split())  # each renderer wraps long labels to its own width


def _png_panels(fig) -> list[tuple]:
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else [] for ax in fig.axes]
    return [(ax.get_title(loc="left"), _words(ax.get_xlabel()), names) for ax, names in zip(fig.axes, legends)]


def _svg_charts(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f"{SVG}svg")


def _texts(chart: ET.Element, cls: str) -> list[str]:
    return [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == cls]


def _svg_panels(svg: str) -> list[tuple]:
    return [
        (" ".join(_texts(c, "title plot_title")), _words(" ".join(_texts(c, "title"))),
         [t.text for g in c.iter(f"{SVG}g") if g.get("class") == "legends" for t in g.iter(f"{SVG}text")])
        for c in _svg_charts(svg)
    ]


def test_the_png_and_the_svg_draw_the_same_panels(run):
    for r in (run, cuda_run(), parse_run(seed_json(), "seed.json")):
        expected = [(p.title, _words(p.axis_label), [s.name for s in p.series] if len(p.series) > 1 else [])
                    for p in performance_panels(r)]
        assert _png_panels(performance_figure(r)) == expected == _svg_panels(performance_svg(r))
    assert [title for title, _, _ in _svg_panels(performance_svg(run))] == TITLES


def test_the_time_axes_are_log_scaled_with_readable_ticks_in_both(run):
    fig = performance_figure(run)
    fig.draw_without_rendering()
    ax_save, ax_load, ax_size, *_ = fig.axes
    assert (ax_save.get_xscale(), ax_load.get_xscale(), ax_size.get_xscale()) == ("log", "log", "linear")
    save_ticks = [t.get_text() for t in ax_save.get_xticklabels()]
    assert save_ticks == ["1 ms", "10 ms", "100 ms", "1 s"]
    assert [t.get_text() for t in ax_load.get_xticklabels()] == ["1 ms", "2 ms", "5 ms", "10 ms", "20 ms", "50 ms"]
    svg_save = _svg_charts(performance_svg(run))[0]
    axis = next(g for g in svg_save.iter(f"{SVG}g") if g.get("class", "").startswith("axis x"))
    assert [t.text for t in axis.iter(f"{SVG}text")] == save_ticks
    assert "logarithmic" in ET.tostring(svg_save, encoding="unicode")


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
    pale = [p.get_hatch() is not None for p in ax_imp.patches]  # ts+compression's load only: no difference shown
    assert pale == [False] * 9 + [True] and ax_imp.patches[-1].get_alpha() == PALE_ALPHA
    first = next(c for c in ax_imp.containers if type(c).__name__ == "ErrorbarContainer")
    (segment,) = first.lines[2][0].get_segments()
    assert [x for x, _ in segment] == pytest.approx(list(analysis.versus(run, SAVE, "pytorch").improvements))


@pytest.mark.parametrize("make, panels", [(lambda: load_runs([TINY]), 6), (cuda_run, 7)], ids=["cpu", "cuda"])
def test_every_bar_has_room_for_its_text_and_no_text_overlaps_or_leaves_its_panel(make, panels):
    fig = performance_figure(make())
    fig.draw_without_rendering()
    assert len(fig.axes) == panels
    for ax in fig.axes:
        texts = [t.get_window_extent() for t in ax.texts]
        for a, b in combinations(texts, 2):
            assert not a.overlaps(b), ax.get_title(loc="left")
        for box in texts:
            assert ax.bbox.x0 - 1 <= box.x0 and box.x1 <= ax.bbox.x1 + 1, ax.get_title(loc="left")
        if ax.patches:
            assert min(p.get_window_extent().height for p in ax.patches) >= max(b.height for b in texts)
        if ax.get_legend():  # between the title and the bars
            legend = ax.get_legend().get_window_extent()
            assert not legend.overlaps(ax.title.get_window_extent()) and legend.y0 >= ax.bbox.y1 - 1


def test_the_figure_grows_with_the_bars_it_draws(run):
    cpu, cuda = performance_figure(run), performance_figure(cuda_run())  # CUDA: a seventh panel of 18 bars
    assert cuda.get_figheight() > cpu.get_figheight() + 3 and cuda.get_figwidth() == cpu.get_figwidth()


def test_a_long_heading_is_wrapped_inside_the_figure_and_the_svg():
    sources = f"{LONG_NAME} + /a/deep/directory/{LONG_NAME.replace('0001', '0002')}"
    run = parse_run(tiny_json(), sources)
    fig = performance_figure(run)
    fig.draw_without_rendering()
    heading = fig._suptitle
    assert "/a/deep/directory" not in heading.get_text()  # file names only
    assert len(heading.get_text().splitlines()) >= 3
    box = heading.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    footnote = fig._supxlabel.get_window_extent()
    assert fig.bbox.x0 <= footnote.x0 and footnote.x1 <= fig.bbox.x1 and footnote.y0 >= fig.bbox.y0
    root = ET.fromstring(performance_svg(run))
    lines = [(t.text, int(t.get("style").split("px")[0].split()[-1])) for t in root.findall(f"{SVG}text")]
    assert len(lines) >= 4 and LONG_NAME in " ".join(text for text, _ in lines)
    assert all(len(text) * size * 0.6 <= int(root.get("width")) for text, size in lines)


def test_missing_pieces_become_messages_not_empty_panels():
    run = parse_run(keep(tiny_json(), lambda b: b["param"] != "tensorstore" and b["group"] != "load-warm"), "subset.json")
    _, ax_load, _, ax_imp, _, _ = performance_figure(run).axes
    assert len(ax_load.patches) == 5  # cold only
    assert not ax_imp.patches and not ax_imp.axison
    assert "improvements need the 'tensorstore' baseline" in _words(ax_imp.texts[0].get_text())
    chart = _svg_charts(performance_svg(run))[3]
    assert "improvements need the 'tensorstore' baseline" in " ".join(
        t.text for t in chart.iter(f"{SVG}text") if "no_data" in t.get("class", ""))


def test_a_run_without_sizes_says_so_in_the_size_panel():
    data = seed_json()
    for entry in data["benchmarks"]:
        del entry["extra_info"]
    _, _, ax_size, _, _, _ = performance_figure(parse_run(data, "seed.json")).axes
    assert not ax_size.patches and "no disk_bytes" in ax_size.texts[0].get_text()


def test_the_svg_is_valid_xml_with_the_charts_tooltips_and_whiskers(run):
    charts = _svg_charts(performance_svg(run))
    assert len(charts) == 6 and all("pygal-chart" in c.get("class") for c in charts)
    bars = [[b.find(f"{SVG}title").text for b in c.iter(f"{SVG}g") if b.get("class") == "bar"] for c in charts]
    assert [len(b) for b in bars] == [6, 12, 6, 10, 18, 18]
    assert "T5X: save: median 70.87 ms, interquartile range 69.95 to 72.22 ms, 3 rounds" in bars[0]
    assert "TS + large chunks: save: median 159.91 ms, interquartile range 133.43 to 285.51 ms, 3 rounds " \
           "! IQR 95% of the median" in bars[0]
    assert "T5X: save +32.0% [+17.3, +42.1] vs tensorstore: faster" in bars[3]
    assert "TS + compression: load (cold) -10.2% [-20.2, +20.0] vs tensorstore: no difference shown" in bars[3]
    assert "PyTorch: load (cold): 15.7%" in bars[4]
    assert "TensorStore (baseline): save RSS: 2,318,336 bytes" in bars[5]
    assert "70.87 ms" in _texts(charts[0], "value")  # the panel's text, as in the PNG
    assert len([g for g in charts[0].iter(f"{SVG}g") if g.get("class") == "ci"]) == 6
    assert len([g for g in charts[3].iter(f"{SVG}g") if g.get("class") == "ci"]) == 10  # the improvements' intervals
    pale = [b.find(f"{SVG}title").text for b in charts[3].iter(f"{SVG}g")
            if b.get("class") == "bar" and b.get("style") == PALE_STYLE]
    assert pale == ["TS + compression: load (cold) -10.2% [-20.2, +20.0] vs tensorstore: no difference shown"]


def test_the_sweep_heatmaps_name_the_workload_and_label_their_colour_bars():
    def bench(group, method, median, target, codec, disk_mib):
        config = {"chunks": {"rule": "t5x", "target_bytes": target}, "in_flight": None, "compressor": codec}
        info = {"config": config, "disk_bytes": disk_mib * 2**20, "model": "tiny", "dtype": "float32",
                "device": "cpu", "durability": "fsync"}
        return {"group": group, "param": method, "stats": {"median": median, "rounds": 3}, "extra_info": info}

    settings = [("a", 2**20, None, 0.012, 0.9, 324), ("b", 2**22, None, 0.3, 0.05, 327),
                ("c", 2**20, "gzip", 0.04, 0.2, 296), ("d", 2**22, "gzip", 1.2, 0.4, 298)]
    pts = sweep.points({"benchmarks": [
        bench(group, m, median, target, codec, mib)
        for m, target, codec, save, load, mib in settings
        for group, median in (("sweep-save", save), ("sweep-load-cold", load))
    ]})
    fig = sweep.heatmap_figure(pts)
    fig.draw_without_rendering()
    assert fig._suptitle.get_text() == "Parameter sweep · tiny · float32 · cpu · durability fsync · 3 rounds"
    colour_bars = [ax for ax in fig.axes if not ax.get_images()]
    assert len(colour_bars) == 3
    for ax in colour_bars:
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert len(labels) >= 3, ax.get_ylabel()
    assert [t.get_text() for t in colour_bars[2].get_yticklabels()] == ["300", "310", "320"]  # sizes 296 to 327 MiB


def test_importing_the_reports_leaves_matplotlibs_backend_alone():
    check = ("import matplotlib; before = matplotlib.rcParams['backend']; import plotting.__main__; "
             "after = matplotlib.rcParams['backend']; assert before == after == 'svg', (before, after)")
    env = {**os.environ, "MPLBACKEND": "svg"}
    proc = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_command_line_writes_the_figure_the_svg_and_the_markdown(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main([str(TINY), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6-Way Comparison Table" in printed and printed.rstrip().endswith(f"wrote {out / 'comparison.md'}")
    height, width = matplotlib.image.imread(out / "6way_performance_comparison.png").shape[:2]
    figure = performance_figure(load_runs([TINY]))
    # to the pixel: matplotlib drops a fraction of one
    assert (width, height) == (int(figure.get_figwidth() * DPI), int(figure.get_figheight() * DPI))
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
