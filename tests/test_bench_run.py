"""A real run of the benchmark suite on the tiny preset, and what it stores (README: What is measured, Stored)."""
import itertools
import json
import os
import signal
import subprocess
import sys
from dataclasses import fields

import pytest

from bench import disk
from bench.methods import DEFAULT_METHODS
from plotting.__main__ import main as plotting_main
from runschema import BLOCKED, INTERLEAVED, SCHEMA_VERSION, Record, paired
from tests.helpers import load_run, run_bench, stored_runs, usage_line

GROUPS = ("save", "load-cold", "load-warm")
CEILING_OPS = ("write", "read-cold", "read-warm")
EXTRA_FIELDS = {f.name for f in fields(Record)}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    storage = tmp_path_factory.mktemp("storage")
    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    (ckpt_dir / "user-file.txt").write_text("not the suite's")
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(ckpt_dir), "--benchmark-save-data", "--benchmark-warmup=on",
                     "--benchmark-min-time=0.1", "--benchmark-group-by=param:method", storage=storage)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage, ckpt_dir, proc


@pytest.fixture(scope="module")
def run(tiny_run):
    storage, _, _ = tiny_run
    (path,) = stored_runs(storage)
    return load_run(path)


def by_group(run) -> dict:
    return {(b["group"], b["params"].get("op") or b["params"]["method"], b["params"].get("streams")): b
            for b in run["benchmarks"]}


def test_stores_six_methods_times_three_groups_and_the_ceiling(run):
    streams = ["1", str(len(os.sched_getaffinity(0)))] if len(os.sched_getaffinity(0)) > 1 else ["1"]
    expected = [(g, m, None) for g in GROUPS for m in DEFAULT_METHODS]
    expected += [("ceiling", op, n) for op in CEILING_OPS for n in streams]
    assert sorted(by_group(run)) == sorted(expected)


def test_every_benchmark_has_plain_string_params_naming_its_method(run):
    for b in run["benchmarks"]:
        if b["group"] == "ceiling":
            assert b["params"] == {"method": "ceiling", "op": b["extra_info"]["op"],
                                   "streams": str(b["extra_info"]["streams"])}
        else:
            assert b["params"] == {"method": b["extra_info"]["method"]}


def test_every_benchmark_records_the_stored_fields(run):
    for b in run["benchmarks"]:
        e = b["extra_info"]
        assert EXTRA_FIELDS == set(e), EXTRA_FIELDS ^ set(e)
        assert Record.from_json(e).to_json() == e
        assert e["schema_version"] == SCHEMA_VERSION
        assert (e["model"], e["dtype"], e["device"], e["durability"]) == ("tiny", "float32", "cpu", "fsync")
        assert e["n_tensors"] == 21 and e["logical_bytes"] == 908_544
        assert b["stats"]["rounds"] == 3 and len(b["stats"]["data"]) == 3
        assert e["throughput_gbps"] == pytest.approx(e["logical_bytes"] / b["stats"]["median"] / 1e9)
        assert e["disk_bytes"] % 512 == 0 and e["apparent_bytes"] > 0
        assert e["peak_rss_bytes"] >= 0 and e["peak_cuda_bytes"] is None
        assert e["cpu_user_s"] >= 0 and e["cpu_system_s"] >= 0
        if b["group"] == "ceiling":
            assert e["method"] == "ceiling" and e["config"] is None
        else:
            assert e["config"]["id"] == e["method"] and e["efficiency"] > 0


def test_the_rounds_cpu_time_is_measured(run):
    saves = [b["extra_info"] for b in run["benchmarks"] if b["group"] == "save"]
    assert sum(e["cpu_user_s"] + e["cpu_system_s"] for e in saves) > 0  # six saves of 0.9 MB use some CPU


def test_the_rounds_disk_requests_are_counted(run, tiny_run):
    if (device := disk.counted_device(tiny_run[1])) is None or disk.requests(device) is None:
        pytest.skip("--ckpt-dir is on no block device that /proc/diskstats counts")
    for (group, name, _), b in by_group(run).items():
        e = b["extra_info"]
        if group == "save":  # durable saves: every round's files reach the disk within it
            assert e["disk_writes"] >= 1 and e["disk_write_bytes"] >= e["apparent_bytes"], name
        if group == "load-cold":  # evicted: the bytes come from the disk
            assert e["disk_reads"] >= 1 and e["disk_read_bytes"] >= 0.9 * e["apparent_bytes"], name


def test_sizes_and_file_counts_make_sense(run):
    save = {m: b["extra_info"] for (g, m, _), b in by_group(run).items() if g == "save"}
    assert len(save) == 6
    assert save["pytorch"]["n_files"] == 1
    assert save["tensorstore"]["n_files"] > save["ts+chunks"]["n_files"] > 21  # one .zarray per tensor at least
    assert save["ts+compression"]["disk_bytes"] < save["tensorstore"]["disk_bytes"]  # gzip, same chunks
    assert save["t5x"]["disk_bytes"] < save["ts+chunks"]["disk_bytes"]  # gzip, whole-tensor chunks
    assert save["tensorstore"]["apparent_bytes"] == save["ts+concurrency"]["apparent_bytes"]


def test_machine_info_identifies_the_machine_and_nothing_volatile(run, tiny_run):
    info = run["machine_info"]["ckpt_bench"]
    assert {"torch", "tensorstore", "transformers", "cuda_device", "ckpt_filesystem", "torch_threads",
            "torch_interop_threads", "omp_num_threads", "cpus_usable", "cgroup_cpu_cores", "cgroup_memory_bytes"} <= set(info)
    assert info["ckpt_dir"] == str(tiny_run[1])
    assert "ckpt_free_bytes" not in info and "hz_actual" not in run["machine_info"].get("cpu", {})
    assert run["ckpt_bench"]["schema_version"] == SCHEMA_VERSION and run["ckpt_bench"]["ckpt_free_bytes"] > 0


def test_the_run_says_what_it_ignores_and_names_each_benchmark_with_its_time(tiny_run):
    lines = tiny_run[2].stdout.splitlines()
    assert sum("ckpt-bench: warning: --benchmark-min-time ignored" in line for line in lines) == 1
    assert not any("--benchmark-warmup ignored" in line for line in lines)  # it asks for the untimed round
    assert any("bench/test_checkpoint.py::test_save[pytorch] PASSED in " in line for line in lines)


def test_leaves_only_the_users_files_in_ckpt_dir(tiny_run):
    _, ckpt_dir, _ = tiny_run
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["user-file.txt"]
    assert (ckpt_dir / "user-file.txt").read_text() == "not the suite's"


def test_compare_against_a_stored_run_without_a_machine_info_warning(tiny_run):
    storage, ckpt_dir, _ = tiny_run
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(ckpt_dir), "--ckpt-methods", "pytorch,ts+chunks",
                     "--benchmark-compare=0001", "--benchmark-compare-fail=median:100000%", storage=storage)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "0001" in proc.stdout and "NOW" in proc.stdout
    assert "machine_info is different" not in proc.stdout + proc.stderr
    assert len(stored_runs(storage)) == 2


def test_interleaved_rounds_are_stored_with_positions_that_pair_within_each_group(run):
    by_group_method = by_group(run)
    for group in GROUPS:
        entries = [by_group_method[(group, m, None)]["extra_info"] for m in DEFAULT_METHODS]
        assert {e["order"] for e in entries} == {INTERLEAVED}
        for a, b in itertools.combinations(entries, 2):
            assert paired(a["rounds_at"], b["rounds_at"]), (group, a["method"], b["method"])
    ceiling = [b["extra_info"] for b in run["benchmarks"] if b["group"] == "ceiling"]
    assert {e["order"] for e in ceiling} == {BLOCKED}
    every = [p for b in run["benchmarks"] for p in b["extra_info"]["rounds_at"]]
    assert sorted(every) == list(range(len(every)))  # one position per timed round of the run
    assert len({b["extra_info"]["run"] for b in run["benchmarks"]}) == 1  # positions of this run, not another's


def test_pytest_benchmarks_own_compare_reads_every_stored_benchmark(tiny_run):
    storage, _, _ = tiny_run
    (path,) = stored_runs(storage)[:1]
    cmd = [sys.executable, "-c", "import sys; from pytest_benchmark.cli import main; sys.exit(main())",
           "--storage", f"file://{storage}", "compare", "0001", "--columns=median,rounds", "--group-by=group"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=storage.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {b["name"] for b in load_run(path)["benchmarks"]}
    rows = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("test_")]
    assert sorted(rows) == sorted(names) and len(names) == len(GROUPS) * len(DEFAULT_METHODS) + len(CEILING_OPS) * (
        2 if len(os.sched_getaffinity(0)) > 1 else 1)


def test_blocked_rounds_run_each_benchmark_back_to_back(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "--ckpt-order", "blocked",
                     "--ckpt-methods", "pytorch,safetensors", "-k", "save or load_cold", storage=tmp_path / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "round 1 of 3" not in proc.stdout  # no cohort ran
    (path,) = stored_runs(tmp_path / "storage")
    benchmarks = load_run(path)["benchmarks"]
    assert len(benchmarks) == 4 and {b["extra_info"]["order"] for b in benchmarks} == {BLOCKED}
    for b in benchmarks:
        at = b["extra_info"]["rounds_at"]
        assert at == list(range(at[0], at[0] + 3))  # back to back
    saves = [b["extra_info"]["rounds_at"] for b in benchmarks if b["group"] == "save"]
    assert len(saves) == 2 and not paired(*saves)


def test_a_method_slowed_4x_is_slower_than_the_same_code_unslowed(tmp_path):
    """dcp-process saves and loads as dcp does (only its asynchronous save differs); its loads slowed on purpose."""
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "--ckpt-methods", "dcp,dcp-process",
                     "--benchmark-min-rounds=5", "-k", "save or load_cold", "-p", "tests.slow_methods",
                     "--ckpt-slow", "dcp-process:load:4", storage=tmp_path / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = stored_runs(tmp_path / "storage")
    assert plotting_main([str(path), "--out", str(tmp_path / "out"), "--reference", "dcp"]) == 0
    rows = {r["group"]: r for r in json.loads((tmp_path / "out" / "comparison.json").read_text())}
    assert sorted(rows) == ["load-cold", "save"] and {r["method"] for r in rows.values()} == {"dcp-process"}
    assert rows["load-cold"]["verdict"] == "slower" and rows["load-cold"]["low"] > 1
    assert rows["save"]["ratio"] < rows["load-cold"]["ratio"]  # the same save, the slowed load


def test_an_unknown_order_is_one_usage_line(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "--ckpt-order", "shuffled",
                     storage=tmp_path / "storage")
    assert "--ckpt-order 'shuffled': choose from interleaved, blocked" in usage_line(proc)


def test_tests_alone_install_no_signal_handler_and_leave_matplotlib_alone():
    """This process is `pytest tests/`: the suite's plugins are loaded, no benchmark has run in it."""
    import matplotlib

    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.SIG_IGN)
    raw = dict.__getitem__  # reading rcParams["backend"] would itself pick a backend
    assert raw(matplotlib.rcParams, "backend") == raw(matplotlib.rcParamsOrig, "backend")


def test_another_os_stops_before_any_benchmark_with_one_line(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "-p", "tests.fake_platform",
                     storage=tmp_path / "storage")
    assert "ckpt-bench needs Linux" in usage_line(proc) and "this is darwin" in usage_line(proc)


def test_a_method_that_does_not_round_trip_fails_and_stores_no_number(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "--ckpt-methods", "pytorch,corrupting",
                     "-p", "tests.fake_methods", storage=tmp_path / "storage")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "corrupting: 1 tensors did not round-trip bitwise" in proc.stdout
    (path,) = stored_runs(tmp_path / "storage")
    assert sorted(b["params"]["method"] for b in load_run(path)["benchmarks"] if b["group"] != "ceiling") == ["pytorch"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["storage"]
