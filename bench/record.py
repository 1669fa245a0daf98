"""What each benchmark stores in extra_info (SPEC §5), and the check that keeps unverified numbers out."""
from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.checkpoint import mismatches
from bench.disk import Usage


def require_round_trip(benchmark, method, expected: dict, actual: dict) -> None:
    """Fail the test, and keep its timings out of the stored run, unless `actual` is bitwise `expected`."""
    bad = mismatches(expected, actual)
    if bad:
        benchmark.has_error = True  # pytest-benchmark's own flag: such a benchmark is left out of the JSON
        pytest.fail(f"{method.id}: {len(bad)} tensors did not round-trip bitwise, first {bad[0]!r}")


def method_fields(method) -> dict:
    return {"method": method.id, "label": method.label, "config": method.config()}


def record(benchmark, identity: dict, model_info: dict, usage: Usage, peaks: dict) -> None:
    """Call after benchmark.pedantic: throughput needs the measured median."""
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        **identity,
        **model_info,
        **asdict(usage),
        **peaks,
        throughput_gbps=model_info["logical_bytes"] / median / 1e9,
    )
