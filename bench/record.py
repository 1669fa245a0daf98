"""What each benchmark stores in extra_info (runschema.Record), and the check that keeps unverified numbers out."""
from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from bench.checkpoint import mismatches
from bench.disk import Usage
from bench.timing import Measured
from runschema import SCHEMA_VERSION, Record, throughput_gbps


def require_round_trip(benchmark, method, expected, actual) -> None:
    """Fail the test, and keep its timings out of the stored run, unless `actual` is bitwise `expected`."""
    bad = mismatches(expected, actual)
    if bad:
        benchmark.has_error = True  # pytest-benchmark's own flag: such a benchmark is left out of the JSON
        pytest.fail(f"{method.id}: {len(bad)} tensors did not round-trip bitwise, first {bad[0]!r}")


def method_identity(method) -> Record:
    return Record(method=method.id, label=method.label, config=method.config())


def record(benchmark, identity: Record, model_info: dict, usage: Usage, measured: Measured) -> None:
    """Call after benchmark.pedantic: throughput needs the measured median."""
    stored = replace(
        identity,
        **model_info,
        **asdict(usage),
        **measured.peaks,
        **measured.cpu(),
        throughput_gbps=throughput_gbps(model_info["logical_bytes"], benchmark.stats.stats.median),
        schema_version=SCHEMA_VERSION,
    )
    benchmark.extra_info.update(stored.to_json())
