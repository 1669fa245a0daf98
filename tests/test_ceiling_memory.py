"""The hardware ceiling, efficiency and peak memory."""
import pytest

from runschema import add_efficiency
from tests.helpers import load_run, run_bench, stored_runs

HOG_MB = 200e6  # tests/fake_methods.py touches 200 MiB (importing it here would register its methods)


def bench(group, param, median):
    info = {"method": "ceiling", "op": param} if group == "ceiling" else {"method": param}
    return {"group": group, "param": param, "stats": {"median": median}, "extra_info": info}


def test_efficiency_pairs_save_with_write_and_each_load_with_its_read():
    run = {"benchmarks": [
        bench("ceiling", "write", 1.0), bench("ceiling", "read-cold", 0.5), bench("ceiling", "read-warm", 0.1),
        bench("save", "pytorch", 2.0), bench("load-cold", "pytorch", 2.5), bench("load-warm", "pytorch", 0.4),
    ]}
    add_efficiency(run["benchmarks"])
    eff = {(b["group"], b["param"]): b["extra_info"].get("efficiency") for b in run["benchmarks"]}
    assert eff == {
        ("ceiling", "write"): None, ("ceiling", "read-cold"): None, ("ceiling", "read-warm"): None,
        ("save", "pytorch"): 0.5, ("load-cold", "pytorch"): 0.2, ("load-warm", "pytorch"): 0.25,
    }


def test_efficiency_is_against_the_faster_stream_count():
    run = {"benchmarks": [bench("ceiling", "write", 1.0), bench("ceiling", "write", 0.4), bench("save", "pytorch", 2.0)]}
    add_efficiency(run["benchmarks"])
    assert run["benchmarks"][2]["extra_info"]["efficiency"] == 0.2


def test_no_ceiling_no_efficiency():
    run = {"benchmarks": [bench("save", "pytorch", 2.0)]}
    add_efficiency(run["benchmarks"])
    assert "efficiency" not in run["benchmarks"][0]["extra_info"]


@pytest.fixture(scope="module")
def hog_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hog")
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-dir", str(tmp), "--ckpt-methods", "pytorch,hog",
                     "-p", "tests.fake_methods", storage=tmp / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:]
    (path,) = stored_runs(tmp / "storage")
    return {(b["group"], b["params"].get("op") or b["params"]["method"], b["params"].get("streams")): b
            for b in load_run(path)["benchmarks"]}


def test_ceiling_writes_exactly_the_logical_bytes_in_a_file_per_stream(hog_run):
    ceilings = [(key, b["extra_info"]) for key, b in hog_run.items() if key[0] == "ceiling"]
    assert {key[1] for key, _ in ceilings} == {"write", "read-cold", "read-warm"}
    for (_, op, streams), e in ceilings:
        assert e["n_files"] == int(streams) == e["streams"]
        assert e["apparent_bytes"] == e["logical_bytes"] == 908_544


def test_every_method_benchmark_has_its_efficiency(hog_run):
    for (group, param, _), b in hog_run.items():
        if group != "ceiling":
            assert b["extra_info"]["efficiency"] > 0


def test_peak_memory_sees_200_mib_and_not_where_nothing_is_allocated(hog_run):
    assert hog_run[("save", "hog", None)]["extra_info"]["peak_rss_bytes"] >= HOG_MB
    assert hog_run[("save", "pytorch", None)]["extra_info"]["peak_rss_bytes"] < HOG_MB / 10
    assert hog_run[("save", "pytorch", None)]["extra_info"]["peak_cuda_bytes"] is None
