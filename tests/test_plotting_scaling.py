"""`python -m plotting scaling`: throughput against the number of ranks from runs of several world sizes, as a table,
a PNG and an SVG drawn from one description of the charts."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib.image
import pytest

from plotting import scaling, scaling_charts
from plotting.__main__ import main
from plotting.figures import DPI
from plotting.runs import RunError
from plotting.scaling_render import scaling_figure, scaling_svg
from runschema import LOAD_COLD, SAVE
from tests.plotting_data import ranks_json, write

SVG = "{http://www.w3.org/2000/svg}"
# (save, load-cold) GB/s at 1 rank, and how much of ideal scaling each world size keeps
METHODS = {"pytorch": (1.2, 2.0), "tensorstore": (0.4, 1.1), "dcp": (1.0, 1.8)}
KEEPS = {1: 1.0, 2: 0.9, 4: 0.75, 8: 0.5}


def gbps(method: str, world_size: int) -> tuple[float, float]:
    return tuple(v * world_size * KEEPS[world_size] for v in METHODS[method])


@pytest.fixture
def runs(tmp_path):
    """One run file per world size, as torchrun would store them; DCP also loads checkpoints of other world sizes."""
    paths = []
    for w in KEEPS:
        resharded = {("dcp", 2 * w if w < 8 else 4): 0.7 * w}
        data = ranks_json(w, {m: gbps(m, w) for m in METHODS}, (2.5 * w, 3.5 * w), resharded,
                          nnodes=2 if w == 8 else 1)
        paths.append(write(tmp_path, data, f"run-{w}.json"))
    return paths


def test_the_runs_are_indexed_by_world_size_with_throughput_and_speedup(runs):
    s = scaling.load(runs)
    assert s.world_sizes == (1, 2, 4, 8) and s.methods == ("pytorch", "tensorstore", "dcp")
    assert s.gbps(SAVE, "pytorch", 4) == pytest.approx(1.2 * 4 * 0.75)
    assert s.speedup(LOAD_COLD, "tensorstore", 8) == pytest.approx(8 * 0.5)
    assert s.gbps("ceiling", "write", 2) == pytest.approx(5.0)
    assert s.resharded("dcp", 8) == [(4, pytest.approx(5.6))] and s.resharded("pytorch", 8) == []
    assert s.nodes(8) == 2 and s.nodes(1) == 1


def test_the_table_has_a_row_per_method_and_world_size_then_the_ceiling(runs, tmp_path):
    table = scaling.table(scaling.load(runs))
    assert table.header == ("method", "ranks", "save GB/s", "load-cold GB/s", "load-resharded GB/s",
                            "save speedup", "load speedup")
    assert [r[:2] for r in table.rows[:4]] == [("pytorch", "1"), ("pytorch", "2"), ("pytorch", "4"),
                                                ("pytorch", "8 (2 nodes)")]
    assert table.rows[1] == ("pytorch", "2", "2.16", "3.60", "n/a", "1.80x", "1.80x")
    assert table.rows[9] == ("dcp", "2", "1.80", "3.24", "1.40 (from 4)", "1.80x", "1.80x")
    assert table.rows[-1] == (
        "disk ceiling (write / read-cold)", "8 (2 nodes)", "20.0", "28.0", "n/a", "8.00x", "8.00x")
    assert len(table.rows) == 3 * 4 + 4
    alone = write(tmp_path, _without(ranks_json(1, {"pytorch": (1.0, 2.0)}), "load-resharded"), "alone.json")
    without = scaling.table(scaling.load([alone]))  # no resharded load: no column
    assert "load-resharded GB/s" not in without.header and "load-resharded" not in without.note


def test_each_chart_has_a_line_per_method_its_ideal_and_the_disk_ceiling(runs):
    s = scaling.load(runs)
    save, load = scaling_charts.charts(s)
    assert (save.title, load.title) == ("Save throughput", "Cold-load throughput")
    assert [x.name for x in save.series] == ["pytorch", "pytorch (ideal)", "tensorstore", "tensorstore (ideal)",
                                             "dcp", "dcp (ideal)", "disk ceiling (write)"]
    assert load.series[-1].name == "disk ceiling (read-cold)" and load.series[-1].style == scaling_charts.DOTTED
    pytorch, ideal = save.series[:2]
    assert pytorch.points == tuple((w, pytest.approx(gbps("pytorch", w)[0])) for w in KEEPS)
    assert ideal.style == scaling_charts.DASHED and ideal.color == pytorch.color
    assert ideal.points == tuple((w, pytest.approx(1.2 * w)) for w in KEEPS)
    assert [x.color for x in save.series] == [x.color for x in load.series]  # a method keeps its colour
    assert save.x_ticks == (1, 2, 4, 8)
    values = [y for x in save.series for _, y in x.points]
    assert save.y_ticks[0] <= min(values) and save.y_ticks[-1] >= max(values)
    assert pytorch.tooltips[1] == "pytorch, 2 ranks: 2.16 GB/s, 1.80x its 1 rank"


def _words(text: str) -> str:
    return " ".join(text.split())  # each renderer wraps long labels to its own width


def _texts(root: ET.Element, cls: str) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def _axis_labels(chart: ET.Element, axis: str) -> list[str]:
    group = next(g for g in chart.iter(f"{SVG}g") if g.get("class", "").startswith(f"axis {axis}"))
    return [t.text for t in group.iter(f"{SVG}text")]


def test_the_png_and_the_svg_draw_the_same_charts(runs):
    s = scaling.load(runs)
    expected = [(c.title, _words(f"{c.x_label} {c.y_label}"), [x.name for x in c.series],
                 [c.x_format(t) for t in c.x_ticks], [c.y_format(t) for t in c.y_ticks])
                for c in scaling_charts.charts(s)]
    fig = scaling_figure(s)
    png = [(ax.get_title(loc="left"), _words(f"{ax.get_xlabel()} {ax.get_ylabel()}"),
            [t.get_text() for t in ax.get_legend().get_texts()],
            [t.get_text() for t in ax.get_xticklabels()], [t.get_text() for t in ax.get_yticklabels()])
           for ax in fig.axes]
    charts = ET.fromstring(scaling_svg(s)).findall(f"{SVG}svg")
    svg = [(" ".join(_texts(c, "title plot_title")), _words(" ".join(_texts(c, "title"))),
            [t.text for g in c.iter(f"{SVG}g") if g.get("class") == "legends" for t in g.iter(f"{SVG}text")],
            _axis_labels(c, "x"), _axis_labels(c, "y"))
           for c in charts]
    assert png == expected == svg
    assert [ax.get_xscale() for ax in fig.axes] == [ax.get_yscale() for ax in fig.axes] == ["log", "log"]


def test_the_svg_points_carry_their_numbers_and_the_png_keeps_its_legends_inside(runs):
    s = scaling.load(runs)
    chart = ET.fromstring(scaling_svg(s)).findall(f"{SVG}svg")[0]
    titles = [t.text for g in chart.iter(f"{SVG}g") if g.get("class") == "dots" for t in g.findall(f"{SVG}title")]
    assert "pytorch, 8 ranks: 4.80 GB/s, 4.00x its 1 rank" in titles
    assert "disk ceiling (write), 2 ranks: 5.00 GB/s, 2.00x its 1 rank" in titles
    fig = scaling_figure(s)
    fig.draw_without_rendering()
    page = fig.bbox
    for ax in fig.axes:
        box = ax.get_legend().get_window_extent()
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert not box.overlaps(ax.bbox)


def test_the_command_line_prints_the_table_and_writes_the_three_files(runs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["scaling", *map(str, runs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("ckpt-bench scaling: tiny · ") and "4 world sizes (1, 2, 4, 8 ranks)" in printed
    assert "Throughput by number of ranks" in printed and "nothing to scale" not in printed
    assert printed.rstrip().endswith(f"wrote {out / 'scaling.md'}")
    height, width = matplotlib.image.imread(out / "scaling.png").shape[:2]
    figure = scaling_figure(scaling.load(runs))
    assert (width, height) == pytest.approx((figure.get_figwidth() * DPI, figure.get_figheight() * DPI), abs=1)
    assert len(ET.parse(out / "scaling.svg").getroot().findall(f"{SVG}svg")) == 2
    markdown = (out / "scaling.md").read_text()
    assert markdown.startswith("# Checkpoint scaling") and "## Throughput by number of ranks" in markdown
    assert "| dcp | 2 | 1.80 | 3.24 | 1.40 (from 4) | 1.80x | 1.80x |" in markdown


def test_one_world_size_is_drawn_with_a_note_and_no_ideal_lines(runs, tmp_path, capsys):
    assert main(["scaling", str(runs[0]), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert scaling.ONE_SIZE in printed and scaling.ONE_SIZE in (tmp_path / "scaling.md").read_text()
    s = scaling.load(runs[:1])
    assert all(x.style != scaling_charts.DASHED for c in scaling_charts.charts(s) for x in c.series)
    assert scaling_charts.footnote(s).endswith(scaling.ONE_SIZE) and "dashed" not in scaling_charts.footnote(s)
    assert "1 world size (1 rank)" in scaling.headline(s)


def _without(data: dict, group: str) -> dict:
    return {**data, "benchmarks": [b for b in data["benchmarks"] if b["group"] != group]}


@pytest.mark.parametrize("case, message", [
    ("missing", "no such run file"),
    ("no-load-cold", "no 'load-cold' benchmarks (it has: save)"),
    ("two-workloads", "mixes runs of model small and tiny"),
    ("twice", "save of pytorch at world size 1 is also in"),
    ("no-bytes", "no save or load-cold benchmark stores extra_info.logical_bytes"),
])
def test_unusable_runs_are_one_line_each(tmp_path, capsys, case, message):
    one = ranks_json(1, {"pytorch": (1.0, 2.0)})
    other = {
        "missing": None,
        "no-load-cold": _without(ranks_json(2, {"pytorch": (1.0, 2.0)}), LOAD_COLD),
        "two-workloads": ranks_json(2, {"pytorch": (1.0, 2.0)}, model="small"),
        "twice": one,
        "no-bytes": None,
    }[case]
    if case == "no-bytes":
        for b in one["benchmarks"]:
            del b["extra_info"]["logical_bytes"]
    paths = [write(tmp_path, one, "a.json"), tmp_path / "b.json" if other is None else write(tmp_path, other, "b.json")]
    if case == "no-bytes":
        paths = paths[:1]
    assert main(["scaling", *map(str, paths), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    with pytest.raises(RunError):
        scaling.load(paths)


def test_the_help_names_the_subcommand_and_the_single_world_size_rule(capsys):
    assert main(["scaling"]) == 2
    assert "required: RUN.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "scaling --help" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["scaling", "--help"])
    assert "one world size: nothing to scale" in " ".join(capsys.readouterr().out.split())


def test_the_scaling_report_imports_no_torch():
    check = "import sys, plotting.__main__, plotting.scaling_render; assert 'torch' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-2000:]
