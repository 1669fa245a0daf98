"""The terminal summary: the tables after a benchmark run, nothing after a run without benchmarks."""
import pytest

pytest_plugins = ("pytester",)

BENCHMARKS = """
import pytest

METHODS = ["pytorch", "tensorstore", "t5x"]

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.benchmark(group="save")
def test_save(benchmark, method):
    benchmark.extra_info.update(method=method, disk_bytes=1000 * (1 + METHODS.index(method)))
    benchmark.pedantic(sum, args=(range(100),), rounds=3)

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.benchmark(group="load-cold")
def test_load_cold(benchmark, method):
    benchmark.extra_info.update(method=method)
    benchmark.pedantic(sum, args=(range(100),), rounds=3)
"""


@pytest.fixture
def benchmarks(pytester):
    pytester.makepyfile(test_bench=BENCHMARKS)
    return pytester


def test_a_stored_benchmark_run_ends_with_the_tables(benchmarks):
    result = benchmarks.runpytest("-p", "plotting.pytest_plugin", "--benchmark-autosave", "--benchmark-storage=store")
    result.assert_outcomes(passed=6)
    text = result.stdout.str()
    assert text.index("benchmark 'save'") < text.index("ckpt-bench comparison")  # after pytest-benchmark's tables
    result.stdout.fnmatch_lines([
        "*= ckpt-bench comparison =*",
        "ckpt-bench run: this run",
        "3-Way Comparison Table",
        "method * save (ms) * load (ms) * load-warm (ms) * size (KiB) * save GB/s * load GB/s",
        "pytorch * n/a * 0.98 * n/a * n/a",
        "Improvements vs tensorstore Baseline",  # a run without stored labels names methods by id
        "Ranking by Save Performance (fastest first)",
        "Ranking by Load Performance (fastest first)",
        "- Smallest on disk: pytorch (0.98 KiB, 50.0% smaller than tensorstore)*",
    ])


def test_a_run_without_benchmarks_prints_nothing_of_ours(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("-p", "plotting.pytest_plugin", "--benchmark-autosave", "--benchmark-storage=store")
    result.assert_outcomes(passed=1)
    assert "ckpt-bench" not in result.stdout.str()


def test_benchmarks_that_were_not_stored_print_nothing_of_ours(benchmarks):
    result = benchmarks.runpytest("-p", "plotting.pytest_plugin")
    result.assert_outcomes(passed=6)
    assert "ckpt-bench" not in result.stdout.str()


def test_a_run_without_the_load_group_says_why_in_one_line(benchmarks):
    result = benchmarks.runpytest("-p", "plotting.pytest_plugin", "--benchmark-autosave", "--benchmark-storage=store", "-k", "save")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["no comparison tables: this run: no 'load-cold' benchmarks (it has: save)*"])
