"""Fixtures shared by the benchmarks: rounds, and one verified checkpoint per method for the loads."""
from __future__ import annotations

import pytest

from bench import checkpoint


def pytest_generate_tests(metafunc):
    if "method" in metafunc.fixturenames:
        methods = metafunc.config.ckpt_options.methods
        # module scope: one load checkpoint per method at a time, torn down before the next method's
        metafunc.parametrize("method", methods, ids=[m.id for m in methods], scope="module")


@pytest.fixture(scope="session")
def rounds(pytestconfig) -> int:
    """Timed rounds of every benchmark: pytest-benchmark's own --benchmark-min-rounds."""
    return pytestconfig.getoption("benchmark_min_rounds")


@pytest.fixture(scope="module")
def saved(method, tensors, workspace, options):
    """A checkpoint of `method`, written once (untimed) and verified bitwise before any load is timed."""
    root = workspace.fresh(f"load-{method.id}")
    checkpoint.save(method, tensors, root, options.durability)
    bad = checkpoint.mismatches(tensors, checkpoint.load(method, root, options.device))
    if bad:
        pytest.fail(f"{method.id}: {len(bad)} tensors did not round-trip bitwise, first {bad[0]!r}")
    yield root
    workspace.discard(root)
