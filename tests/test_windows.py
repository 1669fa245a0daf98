"""How the TensorStore methods bound what is in flight, read into tensors allocated first, and how every benchmark's
rounds are run (with or without a warm-up round); the parallel removal of a checkpoint."""
import dataclasses
import os
import threading
import time

import pytest
import torch

from bench import timing
from bench.backends import tensorstore
from bench.backends.tensorstore import TensorStore, _rolling
from bench.checkpoint import mismatches
from bench.chunks import FixedChunks
from bench.disk import Requests
from bench.handover import measure
from bench.memory import SAMPLER_NAME, peak_memory
from bench.timing import Clock, Measured, Rounds, run_blocked
from bench.workspace import remove_tree

CPU = torch.device("cpu")


class Started:
    """Records what _rolling starts and finishes, to check the window at every step."""

    def __init__(self, sizes: dict):
        self.sizes, self.running, self.order, self.most = sizes, set(), [], 0

    def start(self, item):
        self.running.add(item)
        self.most = max(self.most, sum(self.sizes[i] for i in self.running))
        return item

    def run(self, limit):
        for item, future in _rolling(list(self.sizes), self.start, self.sizes.get, limit):
            assert item == future
            self.running.remove(item)
            self.order.append(item)
        return self


def test_the_window_keeps_started_bytes_at_or_under_the_limit_and_keeps_the_order():
    sizes = {"a": 3, "b": 4, "c": 2, "d": 5, "e": 1}
    seen = Started(sizes).run(limit=6)
    assert seen.order == list(sizes) and seen.most <= 6 and not seen.running


def test_an_item_larger_than_the_window_goes_alone():
    seen = Started({"small": 1, "huge": 10, "tail": 1}).run(limit=4)
    assert seen.most == 10 and seen.order == ["small", "huge", "tail"]


def test_no_limit_starts_everything_before_the_first_wait():
    sizes = {str(i): 1 for i in range(5)}
    seen = Started(sizes).run(limit=float("inf"))
    assert seen.most == 5


TENSORS = {
    "big": torch.arange(300 * 40, dtype=torch.float32).reshape(300, 40),
    "half": torch.randn(70, 33, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16),
    "scalar": torch.tensor(7, dtype=torch.int64),
    "empty": torch.zeros(0, 5, dtype=torch.float16),
}
VARIANTS = {
    "window": dict(in_flight=None, window_bytes=10_000),
    "into": dict(in_flight=None, window_bytes=10_000, read_into=True),
    "memmap": dict(in_flight=None, read_into=True, read_mode="memmap"),
    "direct": dict(in_flight=None, read_into=True, read_mode="direct"),
    "one at a time": dict(in_flight=1, read_into=True),
    "four at a time": dict(in_flight=4),
}


@pytest.mark.parametrize("settings", VARIANTS.values(), ids=list(VARIANTS))
def test_every_read_path_round_trips_bitwise(settings, tmp_path):
    fmt = TensorStore(chunks=FixedChunks(16), **settings)
    fmt.save(TENSORS, tmp_path, durability="fsync")
    assert mismatches(TENSORS, fmt.load(tmp_path, device=CPU)) == []


def test_reading_into_tensors_holds_no_second_copy(tmp_path):
    """A load of every tensor at once into tensors allocated first, chunks memory-mapped, holds the tensors and no
    anonymous copy of the chunks beside them (reading into new arrays held both: 1.9-2.0x on `small`)."""
    big = {f"t{i}": torch.randn(1024, 1024, generator=torch.Generator().manual_seed(i)) for i in range(8)}  # 32 MiB
    logical = sum(t.nelement() * t.element_size() for t in big.values())
    fmt = TensorStore(chunks=FixedChunks(256), in_flight=None, read_into=True, read_mode="memmap")
    fmt.save(big, tmp_path, durability="none")
    with peak_memory(CPU) as peaks:
        loaded = fmt.load(tmp_path, device=CPU)
    assert mismatches(big, loaded) == []
    assert peaks["peak_anon_bytes"] < 1.4 * logical


def test_a_window_holds_fewer_bytes_than_all_at_once(tmp_path, monkeypatch):
    """Counted where TensorStore is asked to write: the bytes whose writes have started and not yet been awaited."""
    calls = []
    real = tensorstore._rolling

    def spying(items, start, cost, limit):
        running = {}

        def counted(item):
            running[item] = cost(item)
            calls.append(sum(running.values()))
            return start(item)

        for item, future in real(items, counted, cost, limit):
            yield item, future
            running.pop(item)

    monkeypatch.setattr(tensorstore, "_rolling", spying)
    tensors = {f"t{i}": torch.ones(64, 64) for i in range(6)}  # 16 KiB each
    TensorStore(chunks=FixedChunks(32), in_flight=None, window_bytes=40_000).save(tensors, tmp_path, durability="none")
    assert max(calls) == 2 * 16384
    calls.clear()
    TensorStore(chunks=FixedChunks(32), in_flight=None).save(tensors, tmp_path / "all", durability="none")
    assert max(calls) == 6


CLOCK = Clock(time.perf_counter)


def rounds_of(target, setup, count: int, warmup: bool = False, disk_path=None) -> Measured:
    return run_blocked(Rounds(target, setup, CPU, CLOCK, warmup=warmup, disk_path=disk_path), count)


@pytest.mark.parametrize("warmup", [False, True])
@pytest.mark.parametrize("holding", [1, 2])
def test_a_warm_up_round_runs_only_when_asked_and_the_peaks_come_from_the_first_round(warmup, holding):
    """The call numbered `holding` (1: the first of all) holds 64 MiB; only the first round's is measured."""
    calls = []

    def target(n):
        calls.append(n)
        block = bytearray(64 * 2**20 if len(calls) == holding else 0)
        block[::4096] = b"\1" * len(range(0, len(block), 4096))  # resident: the kernel's high-water mark sees it
        return len(block)

    measured = rounds_of(target, lambda: (len(calls),), 3, warmup=warmup)
    assert len(calls) == 3 + warmup and len(measured.cpu_user_s) == 3 and len(measured.readings) == 3
    # the kernel's exact high-water mark, not the sampled anonymous peak, which a busy machine may not sample in time
    assert (measured.peaks["peak_rss_bytes"] >= 60 * 2**20) == (holding == 1)  # the first call is the measured one


def test_each_timed_round_counts_the_disk_requests_between_its_setup_and_its_teardown(monkeypatch, tmp_path):
    """The counters are read after each setup and in each teardown: a setup's requests and the warm-up's are left out."""
    counter = [0]

    def requests(device):
        return Requests(counter[0], 4096 * counter[0], 0, 0)

    def setup():
        counter[0] += 1000  # eviction, deleting the previous round's checkpoint: not the round's
        return ()

    def target():
        counter[0] += len(rounds) + 1  # 1, 2, 3 requests in the three timed rounds
        rounds.append(counter[0])

    rounds = []
    monkeypatch.setattr(timing.disk, "counted_device", lambda path: (8, 0))
    monkeypatch.setattr(timing.disk, "requests", requests)
    measured = rounds_of(target, setup, 3, warmup=True, disk_path=tmp_path)
    assert [r.reads for r in measured.requests] == [2, 3, 4]  # the warm-up round took 1 and is not counted
    assert measured.disk() == {"disk_reads": 3, "disk_read_bytes": 3 * 4096, "disk_writes": 0, "disk_write_bytes": 0}
    monkeypatch.setattr(timing.disk, "counted_device", lambda path: None)  # tmpfs, overlay: nothing to count
    assert rounds_of(target, setup, 2, disk_path=tmp_path).disk() == {}


class Benchmark:
    """A pytest-benchmark fixture, as far as handover.measure uses it before a round fails."""

    _timer, _disable_gc, has_error = staticmethod(time.perf_counter), False, False


def test_the_sampler_stops_when_a_timed_round_raises():
    def target():
        raise RuntimeError("disk gone")

    benchmark = Benchmark()
    with pytest.raises(RuntimeError):
        measure(benchmark, target, tuple, rounds=2, device=CPU, disk_path=None)
    assert benchmark.has_error  # pytest-benchmark leaves such a benchmark out of the stored run
    assert SAMPLER_NAME not in {t.name for t in threading.enumerate()}


def test_remove_tree_removes_every_level_and_only_the_link_not_its_target(tmp_path):
    root = tmp_path / "checkpoint"
    for d in range(5):
        (root / f"t{d}" / "deeper").mkdir(parents=True)
        (root / f"t{d}" / "deeper" / "0.0").write_bytes(b"x")
        (root / f"t{d}" / ".zarray").write_text("{}")
    (root / "state.json").write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    os.symlink(outside, root / "link")
    remove_tree(root)
    assert not root.exists() and (outside / "keep").read_text() == "mine"


def test_remove_tree_of_nothing_is_nothing(tmp_path):
    remove_tree(tmp_path / "gone")
    assert list(tmp_path.iterdir()) == []


def test_a_byte_window_needs_the_all_at_once_schedule():
    with pytest.raises(ValueError, match="in_flight=None"):
        TensorStore(chunks=FixedChunks(16), in_flight=4, window_bytes=2**20)


def test_methods_store_their_new_settings():
    from bench.methods import REGISTRY, SMALL_CHUNK_WINDOW, WINDOW_BYTES
    all_at_once = [m for m in REGISTRY.values() if getattr(m.format, "in_flight", 1) is None]
    windows = {m.id: m.config()["window_bytes"] for m in all_at_once}
    assert windows.pop("ts+concurrency") == SMALL_CHUNK_WINDOW
    assert windows and set(windows.values()) == {WINDOW_BYTES}
    assert dataclasses.asdict(REGISTRY["tensorstore"].format)["window_bytes"] is None
