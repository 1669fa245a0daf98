"""bench/memory.py: the anonymous and file-backed peaks of one operation, apart, and the sampler that measures them.

Behavioural only: every state a peak must include is held until the block's exit (which is always sampled) or until
the sampler has provably sampled it, so a busy machine cannot make these fail.
"""
import mmap
import threading
from dataclasses import fields

import pytest
import torch

from bench import memory
from bench.memory import SAMPLER_NAME, peak_memory
from runschema import Record

MiB = 2**20
SIZE = 64 * MiB
ENOUGH = 60 * MiB  # the 64 MiB, less what the kernel's counters may lag
SMALL = 16 * MiB  # what the interpreter, the sampler thread and shared libraries may add on the side
CPU = torch.device("cpu")


def _touched(size: int) -> bytearray:
    buf = bytearray(size)
    buf[::4096] = b"\x01" * len(range(0, size, 4096))  # write every page: resident, not only reserved
    return buf


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    chunk = b"\x5a" * MiB
    with open(path, "wb") as f:  # written in small pieces: no 64 MiB buffer left in the heap
        for _ in range(SIZE // MiB):
            f.write(chunk)
    return path


def _samplers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SAMPLER_NAME]


def test_the_peaks_are_the_records_fields():
    with peak_memory(CPU) as peaks:
        pass
    assert set(peaks) == {"peak_rss_bytes", "peak_anon_bytes", "peak_file_bytes", "peak_cuda_bytes"}
    assert set(peaks) <= {f.name for f in fields(Record)}  # bench/record.py spreads them into the stored record
    assert all(isinstance(peaks[k], int) and peaks[k] >= 0 for k in set(peaks) - {"peak_cuda_bytes"})
    assert peaks["peak_cuda_bytes"] is None
    assert Record.from_json(Record(**peaks).to_json()) == Record(**peaks)


def test_anonymous_memory_counts_as_anon_and_rss_not_as_file():
    with peak_memory(CPU) as peaks:
        buf = _touched(SIZE)
    del buf
    assert peaks["peak_anon_bytes"] >= ENOUGH
    assert peaks["peak_rss_bytes"] >= ENOUGH
    assert peaks["peak_file_bytes"] < SMALL


def test_a_mapped_file_counts_as_file_and_rss_not_as_anon(data_file):
    with open(data_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        with peak_memory(CPU) as peaks:
            assert len(mapped[::4096]) == SIZE // 4096  # read one byte of every page: all of it mapped in
    assert peaks["peak_file_bytes"] >= ENOUGH
    assert peaks["peak_rss_bytes"] >= ENOUGH
    assert peaks["peak_anon_bytes"] < SMALL


def test_the_sampler_keeps_a_peak_that_was_gone_before_the_exit():
    sampler = memory._Sampler().start()
    try:
        assert sampler.wait_for_samples(1, timeout=60)
        anon_before, _ = sampler.restart()
        buf = _touched(SIZE)
        assert sampler.wait_for_samples(2, timeout=60)  # the thread has seen the buffer (a sample began after it)
        del buf
        memory.libc.malloc_trim(0)
    finally:
        sampler.stop()
    assert sampler.max_anon - anon_before >= ENOUGH
    assert not _samplers()


def test_an_operation_that_raises_still_stops_and_joins_the_sampler():
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="the operation failed"):
        with peak_memory(CPU):
            assert len(_samplers()) == 1  # it runs during the operation
            raise RuntimeError("the operation failed")
    assert not _samplers()
    assert set(threading.enumerate()) == before


def test_the_sampler_is_gone_after_a_normal_exit_too():
    with peak_memory(CPU) as peaks:
        assert len(_samplers()) == 1
    assert not _samplers() and peaks["peak_anon_bytes"] >= 0
