"""What each benchmark stores in extra_info (SPEC §5)."""
from __future__ import annotations

from dataclasses import asdict

from bench.disk import Usage


def record(benchmark, method, model_info: dict, usage: Usage) -> None:
    """Call after benchmark.pedantic: throughput needs the measured median."""
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        method=method.id,
        label=method.label,
        config=method.config(),
        **model_info,
        **asdict(usage),
        throughput_gbps=model_info["logical_bytes"] / median / 1e9,
    )
