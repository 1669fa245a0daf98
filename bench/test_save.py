"""save: state dict on the session device to a durable checkpoint in a fresh directory (SPEC §3)."""
import pytest

from bench import checkpoint, disk
from bench.record import record


@pytest.mark.benchmark(group="save")
def test_save(benchmark, method, tensors, workspace, options, model_info, rounds):
    written = []

    def setup():
        return (method, tensors, workspace.fresh(f"save-{method.id}"), options.durability), {}

    def teardown(method, tensors, root, durability):
        written.append(disk.usage(root))
        workspace.discard(root)

    benchmark.pedantic(checkpoint.save, setup=setup, teardown=teardown, rounds=rounds)
    record(benchmark, method, model_info, written[-1])
