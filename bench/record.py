"""What each benchmark stores in extra_info (runschema.Record), and the check that keeps unverified numbers out."""
from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from bench.checkpoint import mismatches
from bench.disk import Usage
from bench.timing import Measured
from runschema import SCHEMA_VERSION, Record, throughput_gbps


def require_round_trip(method, expected, actual, world=None, benchmark=None) -> None:
    """Fail the test unless `actual` is bitwise `expected` (at N ranks: on every rank; a rank that loaded nothing
    passes None for both); `benchmark`, if its rounds were handed over already, is then kept out of the stored run."""
    bad = mismatches(expected, actual) if expected is not None else []
    line = f"{method.id}: {len(bad)} tensors did not round-trip bitwise, first {bad[0]!r}" if bad else None
    if bad and benchmark is not None:
        benchmark.has_error = True  # pytest-benchmark's own flag: such a benchmark is left out of the JSON
    if world is not None:
        world.agree(line)  # raises on every rank if any rank's check failed
    elif line:
        pytest.fail(line)


def method_identity(method) -> Record:
    return Record(method=method.id, label=method.label, config=method.config())


def record(benchmark, identity: Record, model_info: dict, usage: Usage, measured: Measured, world=None,
           ranks: dict | None = None, throughput: bool = True) -> None:
    """Call once the rounds are handed over (bench.handover): throughput needs the measured median (False: a round that is not one pass over
    the logical bytes). At N ranks, every rank calls it: the memory peaks are the largest rank's, `ranks` says who
    did the operation (bench.operations.ranks)."""
    peaks = measured.peaks if world is None else world.largest(measured.peaks)
    stored = replace(
        identity,
        **model_info,
        **asdict(usage),
        **peaks,
        **(ranks or {}),
        **measured.cpu(),
        **measured.disk(),
        **measured.positions(),
        throughput_gbps=throughput_gbps(model_info["logical_bytes"] if throughput else None, benchmark.stats.stats.median),
        schema_version=SCHEMA_VERSION,
    )
    benchmark.extra_info.update(stored.to_json())
