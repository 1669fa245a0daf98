"""The parameter sweep: its grid, a real run of a slice of it, and the heatmaps and best configurations."""
import json

import pytest

from bench import sweep
from bench.methods import REGISTRY
from plotting import sweep as report
from runschema import SWEEP_AXES, SweepAxes
from tests.helpers import REPO, load_run, run_bench, stored_runs

SWEEP = REPO / "bench" / "test_sweep.py"


def test_grid_covers_targets_concurrency_and_codecs_once_each():
    grid = sweep.grid()
    assert len(grid) == 7 * 5 * 3 == len({m.id for m in grid})
    assert {m.format.chunks.target_bytes for m in grid} == {2**16, 2**18, 2**20, 2**22, 2**24, 2**26, 2**28}
    assert {m.format.in_flight for m in grid} == {1, 4, 32, 128, None}
    assert {m.format.compressor for m in grid} == {None, "gzip", "zstd"}
    assert not set(m.id for m in grid) & set(REGISTRY)
    assert sweep.point(2**20, None, "gzip").id == "1MiB-all-gzip"
    assert sweep.point(2**16, 1, None).format.io_concurrency is None  # sequential: TensorStore's default limit


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp), "--ckpt-sweep", "-k", "1MiB-all or 64KiB-seq-raw",
                     "--benchmark-min-rounds=1", storage=tmp / "storage", target=SWEEP)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (path,) = stored_runs(tmp / "storage")
    return load_run(path)


def test_sweep_runs_only_with_its_option(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), storage=tmp_path / "storage", target=SWEEP)
    assert proc.returncode == 5 and "210 deselected" in proc.stdout  # pytest's "no tests ran"


def test_a_real_sweep_stores_save_and_cold_load_of_each_point(sweep_run):
    groups = sorted((b["group"], b["param"]) for b in sweep_run["benchmarks"] if b["group"].startswith("sweep"))
    ids = ["1MiB-all-gzip", "1MiB-all-raw", "1MiB-all-zstd", "64KiB-seq-raw"]
    assert groups == sorted((g, i) for g in ("sweep-load-cold", "sweep-save") for i in ids)
    pts = {p.method: p for p in report.points(sweep_run)}
    assert sorted(pts) == ids
    assert pts["1MiB-all-gzip"].values["size"] < pts["1MiB-all-raw"].values["size"]


def _bench(group, method, median, target, in_flight, codec, disk_bytes):
    config = {"chunks": {"rule": "t5x", "target_bytes": target}, "in_flight": in_flight, "compressor": codec}
    return {"group": group, "param": method, "stats": {"median": median},
            "extra_info": {"config": config, "disk_bytes": disk_bytes}}


def test_best_configuration_per_operation_and_the_heatmaps():
    run = {"benchmarks": [
        _bench("sweep-save", "a", 0.010, 2**20, 1, None, 3 * 2**20),
        _bench("sweep-load-cold", "a", 0.040, 2**20, 1, None, 3 * 2**20),
        _bench("sweep-save", "b", 0.030, 2**22, None, "gzip", 2 * 2**20),
        _bench("sweep-load-cold", "b", 0.020, 2**22, None, "gzip", 2 * 2**20),
        _bench("sweep-save", "c", 0.005, 2**22, 4, None, 4 * 2**20),  # no cold load: not a point
        _bench("save", "pytorch", 0.001, 2**20, 1, None, 1),  # not the sweep
    ]}
    pts = report.points(run)
    assert sorted(p.method for p in pts) == ["a", "b"]
    best = report.best(pts)
    assert (best["sweep-save"].method, best["sweep-load-cold"].method, best["size"].method) == ("a", "b", "b")
    text = report.best_text(pts)
    assert "save (ms): a (10.0; chunk target 1 MiB, seq in flight, codec none)" in text
    assert "size on disk (MiB): b (2.0; chunk target 4 MiB, all in flight, codec gzip)" in text
    fig = report.heatmap_figure(pts)
    axes = fig.get_axes()
    heatmaps = [ax for ax in axes if ax.get_images()]
    assert len(heatmaps) == 3 * 2  # save, load-cold, size x two codecs
    assert {t.get_text() for ax in heatmaps for t in ax.texts} >= {"10", "40", "30", "20", "3", "2"}


def test_plotting_sweep_draws_a_real_sweep_and_refuses_a_run_without_one(sweep_run, tmp_path, capsys):
    from plotting.__main__ import main

    run_file = tmp_path / "sweep.json"
    run_file.write_text(json.dumps(sweep_run))
    assert main(["sweep", str(run_file), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Sweep: best configuration per operation" in out and (tmp_path / "out" / report.PNG).stat().st_size > 0
    assert main(["sweep", str(REPO / "tests" / "data" / "tiny_run.json")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "no sweep benchmarks" in line


def test_a_real_sweep_stores_one_plain_string_param_per_axis(sweep_run):
    for b in sweep_run["benchmarks"]:
        params = b["params"]
        assert set(params) == {"method", *SWEEP_AXES} and all(isinstance(v, str) for v in params.values())
        assert SweepAxes.from_params(params).method_id == params["method"] == b["extra_info"]["method"]
    assert {b["params"]["chunk_target"] for b in sweep_run["benchmarks"]} == {"1MiB", "64KiB"}


@pytest.mark.parametrize("damage, says", [
    ({"params": {"method": "x", "chunk_target": "huge", "in_flight": "all", "codec": "raw"}}, "params.chunk_target is 'huge'"),
    ({"params": {"method": "x", "chunk_target": "1MiB", "in_flight": "many", "codec": "raw"}}, "params.in_flight is 'many'"),
    ({"params": {}, "extra_info": {"method": "x"}}, "neither params chunk_target, in_flight, codec nor a stored chunk target"),
    ({"stats": {}}, "no positive stats.median"),
    ({"extra_info": {"disk_bytes": "lots"}}, "extra_info.disk_bytes is 'lots', not int"),
])
def test_a_damaged_sweep_run_is_one_error_line(sweep_run, damage, says, tmp_path, capsys):
    from plotting.__main__ import main

    benchmarks = [dict(b) for b in sweep_run["benchmarks"]]
    benchmarks[0].update(damage)
    run_file = tmp_path / "damaged.json"
    run_file.write_text(json.dumps({**sweep_run, "benchmarks": benchmarks}))
    assert main(["sweep", str(run_file), "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {run_file}: sweep benchmark #0: ") and says in line, line
