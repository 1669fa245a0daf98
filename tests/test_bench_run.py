"""A real run of the benchmark suite on the tiny preset, and what it stores (SPEC §5)."""
import pytest

from bench.methods import DEFAULT_METHODS
from tests.helpers import load_run, run_bench, stored_runs

GROUPS = ("save", "load-cold", "load-warm")
CEILING_OPS = ("write", "read-cold", "read-warm")
EXTRA_FIELDS = {
    "method", "label", "model", "dtype", "device", "n_tensors", "logical_bytes",
    "disk_bytes", "apparent_bytes", "n_files", "durability", "throughput_gbps",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    storage = tmp_path_factory.mktemp("storage")
    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    (ckpt_dir / "user-file.txt").write_text("not the suite's")
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(ckpt_dir), "--benchmark-save-data", storage=storage)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage, ckpt_dir, proc


@pytest.fixture(scope="module")
def run(tiny_run):
    storage, _, _ = tiny_run
    (path,) = stored_runs(storage)
    return load_run(path)


def by_group(run) -> dict:
    return {(b["group"], b["param"]): b for b in run["benchmarks"]}


def test_stores_six_methods_times_three_groups_and_the_ceiling(run):
    expected = [(g, m) for g in GROUPS for m in DEFAULT_METHODS] + [("ceiling", op) for op in CEILING_OPS]
    assert sorted(by_group(run)) == sorted(expected)


def test_every_benchmark_records_the_spec_fields(run):
    for b in run["benchmarks"]:
        e = b["extra_info"]
        assert EXTRA_FIELDS <= set(e), EXTRA_FIELDS - set(e)
        assert (e["model"], e["dtype"], e["device"], e["durability"]) == ("tiny", "float32", "cpu", "fsync")
        assert e["n_tensors"] == 21 and e["logical_bytes"] == 908_544
        assert b["stats"]["rounds"] == 3 and len(b["stats"]["data"]) == 3
        assert e["throughput_gbps"] == pytest.approx(e["logical_bytes"] / b["stats"]["median"] / 1e9)
        assert e["disk_bytes"] % 512 == 0 and e["apparent_bytes"] > 0
        assert e["peak_rss_bytes"] >= 0 and e["peak_cuda_bytes"] is None
        if b["group"] == "ceiling":
            assert (e["method"], e["op"]) == ("ceiling", b["param"])
        else:
            assert e["method"] == b["param"] and e["config"]["id"] == b["param"] and e["efficiency"] > 0


def test_sizes_and_file_counts_make_sense(run):
    save = {m: b["extra_info"] for (g, m), b in by_group(run).items() if g == "save"}
    assert len(save) == 6
    assert save["pytorch"]["n_files"] == 1
    assert save["tensorstore"]["n_files"] > save["ts+chunks"]["n_files"] > 21  # one .zarray per tensor at least
    assert save["ts+compression"]["disk_bytes"] < save["tensorstore"]["disk_bytes"]  # gzip, same chunks
    assert save["t5x"]["disk_bytes"] < save["ts+chunks"]["disk_bytes"]  # gzip, whole-tensor chunks
    assert save["tensorstore"]["apparent_bytes"] == save["ts+concurrency"]["apparent_bytes"]


def test_machine_info_names_the_versions_and_the_checkpoint_disk(run, tiny_run):
    info = run["machine_info"]["ckpt_bench"]
    assert {"torch", "tensorstore", "transformers", "cuda_device", "ckpt_filesystem", "ckpt_free_bytes"} <= set(info)
    assert info["ckpt_dir"] == str(tiny_run[1])


def test_leaves_only_the_users_files_in_ckpt_dir(tiny_run):
    _, ckpt_dir, _ = tiny_run
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["user-file.txt"]
    assert (ckpt_dir / "user-file.txt").read_text() == "not the suite's"


def test_compare_against_a_stored_run(tiny_run):
    storage, ckpt_dir, _ = tiny_run
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(ckpt_dir), "--ckpt-methods", "pytorch,ts+chunks",
                     "--benchmark-compare=0001", "--benchmark-compare-fail=median:100000%", storage=storage)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "0001" in proc.stdout and "NOW" in proc.stdout
    assert len(stored_runs(storage)) == 2


def test_a_method_that_does_not_round_trip_fails_and_stores_no_number(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path), "--ckpt-methods", "pytorch,corrupting",
                     "-p", "tests.fake_methods", storage=tmp_path / "storage")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "corrupting: 1 tensors did not round-trip bitwise" in proc.stdout
    (path,) = stored_runs(tmp_path / "storage")
    assert sorted(b["param"] for b in load_run(path)["benchmarks"] if b["group"] != "ceiling") == ["pytorch"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["storage"]
