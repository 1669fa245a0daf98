"""Reading stored runs: what is indexed, what is merged, and one clear error line for every bad input."""
import os
import subprocess
import sys

import pytest

from plotting.__main__ import main
import runschema
from plotting.runs import RunError, check_same_generation, load_runs, newest_run, parse_run
from runschema import LOAD_COLD, LOAD_WARM, SAVE
from tests.helpers import load_run
from tests.plotting_data import CUDA_RUNS, SIX, TINY, TINY_NOFSYNC, keep, tiny_json, train_json, write


def test_a_tiny_run_is_indexed_by_group_and_method():
    run = load_runs([TINY])
    assert run.methods == SIX
    save = run.get(SAVE, "pytorch")
    stored = next(b for b in tiny_json()["benchmarks"] if b["group"] == "save" and b["param"] == "pytorch")
    assert save.median == stored["stats"]["median"]
    assert (save.low, save.high, save.spread) == (stored["stats"]["q1"], stored["stats"]["q3"], "interquartile range")
    assert save.rounds == 3 and save.data == tuple(stored["stats"]["data"])
    assert save.relative_iqr == pytest.approx(stored["stats"]["iqr"] / stored["stats"]["median"])
    assert all(run.get(g, m) for g in (SAVE, LOAD_COLD, LOAD_WARM) for m in SIX)
    assert run.label("ts+chunks") == "TS + large chunks"
    assert run.workload == {"model": "tiny", "dtype": "float32", "device": "cpu", "durability": "fsync"}


def test_methods_keep_the_order_the_run_measured_them_in_with_their_stored_labels():
    data = tiny_json()
    extra = [
        {**b, "param": "ts+zstd", "extra_info": {**b["extra_info"], "method": "ts+zstd", "label": "TS + zstd"}}
        for b in data["benchmarks"]
        if b["param"] == "pytorch"
    ]
    run = parse_run({**data, "benchmarks": data["benchmarks"] + extra}, "run")
    assert run.methods == (*SIX, "ts+zstd")
    assert run.label("ts+zstd") == "TS + zstd"
    assert parse_run({**data, "benchmarks": data["benchmarks"][::-1]}, "run").methods == SIX[::-1]


def test_the_ceiling_is_kept_apart_from_the_methods_and_other_groups_are_ignored():
    data = tiny_json()
    other = {"group": "sweep", "param": "x", "stats": {"median": 0.001}}
    run = parse_run({**data, "benchmarks": [*data["benchmarks"], other]}, "run")
    assert run.methods == SIX
    stored = {b["param"]: b["stats"]["median"] for b in data["benchmarks"] if b["group"] == "ceiling"}
    assert {op: s.median for op, s in run.ceiling.items()} == stored
    assert list(stored) == ["write", "read-cold", "read-warm"]
    assert run.ceiling["write"].record.method == "ceiling"


def test_the_train_group_is_kept_apart_by_method_and_mode_as_its_own_workload():
    data = train_json(0.5, {("pytorch", "sync"): 0.6, ("pytorch", "async"): 0.55})
    run = parse_run(data, "train.json")
    assert run.methods == ("pytorch",)  # none is no method of the other reports
    assert {k: s.median for k, s in run.train.items()} == {
        ("pytorch", "sync"): 0.6, ("pytorch", "async"): 0.55, ("none", "none"): 0.5}
    assert run.train["none", "none"].record.train["every"] == 5
    assert run.workload == {"model": "tiny"}  # the trained state (adam) is not the run's
    data["benchmarks"][-1]["extra_info"]["mode"] = "sometimes"
    with pytest.raises(RunError, match="benchmark #4: train mode 'sometimes', not one of none, sync, async"):
        parse_run(data, "train.json")


def test_the_same_train_benchmark_twice_is_an_error(tmp_path):
    run = write(tmp_path, train_json(0.5, {("pytorch", "sync"): 0.6}), "run.json")
    train = write(tmp_path, keep(train_json(None, {("pytorch", "sync"): 0.7}), lambda b: b["group"] == "train"), "t.json")
    with pytest.raises(RunError, match="train of pytorch sync is also in"):
        load_runs([run, train])


def test_runs_of_one_workload_merge_into_one_report(tmp_path):
    saves = write(tmp_path, keep(tiny_json(), lambda b: b["group"] == "save"), "saves.json")
    loads = write(tmp_path, keep(tiny_json(), lambda b: b["group"] != "save"), "loads.json")
    merged = load_runs([saves, loads])
    assert merged.stats == load_runs([TINY]).stats
    assert merged.source == f"{saves} + {loads}"


def test_runs_of_two_workloads_do_not_merge(tmp_path):
    saves = write(tmp_path, keep(tiny_json(), lambda b: b["group"] == "save"), "fsync.json")
    loads = write(tmp_path, keep(tiny_json(TINY_NOFSYNC), lambda b: b["group"] != "save"), "none.json")
    with pytest.raises(RunError, match="mixes runs of durability fsync and none.*--compare"):
        load_runs([saves, loads])


def test_the_same_benchmark_twice_is_an_error():
    with pytest.raises(RunError, match="ceiling of write is also in .*tiny_run.json; pass each method's run once"):
        load_runs([TINY, TINY])


def test_two_whole_runs_of_different_models_name_the_models_not_a_duplicate(tmp_path, capsys):
    other = tiny_json()
    for b in other["benchmarks"]:
        b["extra_info"]["model"] = "small"
    assert main([str(TINY), str(write(tmp_path, other, "small.json"))]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "mixes runs of model small and tiny" in line


def test_the_newest_stored_run_is_the_default(tmp_path):
    (tmp_path / "Linux-CPython-3.11-64bit").mkdir()
    old = write(tmp_path, tiny_json(), "0002_old.json")
    new = write(tmp_path / "Linux-CPython-3.11-64bit", tiny_json(), "0001_new.json")
    os.utime(old, (1, 1))  # newest by time written, whatever the names or machine folders
    assert newest_run(tmp_path) == new
    with pytest.raises(RunError, match="no stored runs under .*empty/"):
        newest_run(tmp_path / "empty")


FIRST_METHOD = 3  # tiny_run.json's benchmarks: the three ceiling operations, then save of pytorch


def _corrupt_entry(index=FIRST_METHOD, **changes):
    data = tiny_json()
    data["benchmarks"][index] = {**data["benchmarks"][index], **changes}
    return data


BAD_RUNS = {
    "empty": ("", "the file is empty"),
    "blank": ("  \n", "the file is empty"),
    "corrupt": ('{"benchmarks": [', "not valid JSON"),
    "a list": ("[]", "not a pytest-benchmark run"),
    "no benchmarks": ({"machine_info": {}}, "not a pytest-benchmark run"),
    "no save": (keep(tiny_json(), lambda b: b["group"] != "save"), "no 'save' benchmarks .*needs 'save' and 'load-cold'"),
    "no load-cold": (keep(tiny_json(), lambda b: b["group"] != "load-cold"), "no 'load-cold' benchmarks"),
    "nothing measured": ({"benchmarks": []}, "no 'save' benchmarks \\(it has: none\\)"),
    "no median": (_corrupt_entry(stats={"mean": 0.1}), "save of pytorch: no positive stats.median"),
    "no method": (_corrupt_entry(param=None, extra_info={}), "benchmark #3: no method id"),
    "no ceiling op": (_corrupt_entry(0, param=None, extra_info={}), "benchmark #0: no op"),
    "bad rounds": (_corrupt_entry(stats={"median": 0.1, "data": ["fast"]}), "save of pytorch: stats.data is not a list"),
    "entry not an object": ({"benchmarks": [1]}, "benchmark #0 is not a JSON object"),
    "record not an object": (_corrupt_entry(extra_info=[1]), "benchmark #3: extra_info is not a JSON object"),
    "record of the wrong type": (_corrupt_entry(extra_info={"method": "pytorch", "disk_bytes": "big"}),
                                 "benchmark #3: extra_info.disk_bytes is 'big', not int"),
    "a newer schema": (_corrupt_entry(extra_info={"method": "pytorch", "schema_version": 99}),
                       "schema_version 99 is newer than this ckpt-bench reads"),
}


@pytest.mark.parametrize("content, message", BAD_RUNS.values(), ids=BAD_RUNS.keys())
def test_a_bad_run_is_one_error_line_and_exit_code_2(tmp_path, capsys, content, message):
    path = write(tmp_path, content)
    with pytest.raises(RunError, match=message):
        load_runs([path])
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_missing_run_file_from_the_command_line(tmp_path):
    missing = tmp_path / "missing.json"
    result = subprocess.run([sys.executable, "-m", "plotting", str(missing)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {missing}: no such run file; pass a JSON file from .benchmarks/, "
        "or run `pytest bench/ --benchmark-only` to store one\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--compare", "a.json"], "expected 2 arguments"),
        (["x.json", "--compare", "a.json", "b.json"], "either RUN.json files or --compare"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_command_line_mistakes_are_one_error_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_an_unwritable_out_directory_is_one_error_line(tmp_path, capsys):
    blocker = write(tmp_path, "not a directory", "out")
    assert main([str(TINY), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {blocker}") and err.count("\n") == 1


def test_runs_whose_timings_differ_in_meaning_do_not_merge(tmp_path, monkeypatch):
    monkeypatch.setitem(runschema.GENERATION, 3, 2)  # a future version whose timer covers something else
    later = tiny_json()
    for b in later["benchmarks"]:
        b["extra_info"]["schema_version"] = 3
    saves = write(tmp_path, keep(tiny_json(), lambda b: b["group"] == "save"), "old.json")
    loads = write(tmp_path, keep(later, lambda b: b["group"] != "save"), "new.json")
    with pytest.raises(RunError, match="mixes runs of schema generations 1 and 2"):
        load_runs([saves, loads])
    with pytest.raises(RunError, match="schema generations 1 and 2\\); rerun the older one"):
        check_same_generation(load_runs([TINY]), parse_run(later, "new"))


@pytest.mark.parametrize("path", CUDA_RUNS, ids=lambda p: p.stem)
def test_the_stored_cuda_runs_read_with_their_method_ids_and_cuda_peaks(path):
    """Runs made on an H200 before params were plain strings ("UNSERIALIZABLE[...]"): the record names the method."""
    data = load_run(path)
    assert all(str(b["params"]["method"]).startswith("UNSERIALIZABLE") for b in data["benchmarks"] if b["group"] != "ceiling")
    run = load_runs([path])
    assert run.workload["device"] == "cuda" and run.generation == 1
    assert set(run.methods) == {b["extra_info"]["method"] for b in data["benchmarks"] if b["group"] != "ceiling"}
    assert any(s.record.peak_cuda_bytes for s in run.stats.values())
