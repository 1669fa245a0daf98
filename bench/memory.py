"""Peak memory of one operation (one round of a benchmark: bench/timing.py), each above its level at entry, in bytes.

- peak_rss_bytes: the kernel's resident high-water mark (VmHWM, reset through /proc/self/clear_refs): exact, but it
  also counts file pages mapped in (a safetensors load maps the checkpoint, so it shows twice the checkpoint).
- peak_anon_bytes: anonymous memory (heap, buffers, thread stacks), what the kernel cannot drop without swap.
- peak_file_bytes: file-backed resident pages (the page cache mapped in, tmpfs and shared memory included), which
  the kernel may drop and read again.
- peak_cuda_bytes: CUDA's caching allocator's high-water mark, on a CUDA device.

The kernel keeps no high-water mark per kind of memory for a process, so a thread samples the cheap counters of
/proc/self/statm (resident - shared = RssAnon, shared = RssFile + RssShmem; the same counters as /proc/self/status,
in one short line, no page-table walk as smaps_rollup does) every millisecond while the operation runs and keeps the
maximum, and the value at exit is always included. A spike shorter than the interval (or than the GIL lets the thread
wake up in: up to the switch interval, 5 ms, while the operation runs Python code) can be missed, so these two are
lower bounds; the counters themselves may lag by a few hundred KiB. cgroup v2's memory.peak is no substitute: it is one
number that also counts page cache the operation only read (not mapped), it needs the process moved into a cgroup of
its own (delegation that a container or CI job seldom grants), and memory.stat gives current anon / file, no peaks.
The sampler runs around one round only (bench/timing.py): the first timed one, or the warm-up round if there is one;
its cost there is one statm read per millisecond on a thread of its own.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

from bench.disk import libc

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATM = "/proc/self/statm"
_PAGE = os.sysconf("SC_PAGE_SIZE")
INTERVAL_S = 0.001
SAMPLER_NAME = "ckpt-bench peak-memory sampler"


def _status_bytes(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M).group(1)) * 1024


def _anon_file(fd: int) -> tuple[int, int]:
    """(anonymous, file-backed + shmem) resident bytes now, from statm's resident and shared pages."""
    resident, shared = map(int, os.pread(fd, 256, 0).split()[1:3])
    return (resident - shared) * _PAGE, shared * _PAGE


class _Sampler:
    """A thread that keeps the maximum anonymous and file-backed resident sizes, sampled every `interval` seconds."""

    def __init__(self, interval: float = INTERVAL_S):
        self._interval = interval
        self._fd = os.open(_STATM, os.O_RDONLY | os.O_CLOEXEC)
        self._halt = threading.Event()
        self._sampled = threading.Condition()
        self.samples = 0
        self.max_anon, self.max_file = _anon_file(self._fd)
        self._thread = threading.Thread(target=self._run, name=SAMPLER_NAME, daemon=True)

    def sample(self) -> tuple[int, int]:
        anon, file = _anon_file(self._fd)
        with self._sampled:
            self.max_anon, self.max_file = max(self.max_anon, anon), max(self.max_file, file)
            self.samples += 1
            self._sampled.notify_all()
        return anon, file

    def restart(self) -> tuple[int, int]:
        """The sizes now, from which the maxima start again; returns them (the level at entry)."""
        with self._sampled:
            self.max_anon, self.max_file = now = _anon_file(self._fd)
        return now

    def _run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self._interval)

    def wait_for_samples(self, n: int, timeout: float) -> bool:
        """Wait until the thread has taken `n` more samples (for tests: a state that the peak must include)."""
        with self._sampled:
            target = self.samples + n
            return self._sampled.wait_for(lambda: self.samples >= target, timeout)

    def start(self) -> _Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and join the thread, take the sample at exit, close the file; safe to call twice."""
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._fd >= 0:
            try:
                self.sample()
            finally:
                os.close(self._fd)
                self._fd = -1


@contextmanager
def peak_memory(device: torch.device):
    """Yields a dict that holds, on exit, the peaks above the levels at entry (bytes): see the module docstring."""
    libc.malloc_trim(0)  # glibc: hand freed heap back, or reusing it would hide part of the peak
    # anon / file: a thread samples /proc/self/statm every ms (the kernel keeps no per-kind peak); may miss short spikes
    sampler = _Sampler()
    try:
        sampler.start().wait_for_samples(1, timeout=1.0)  # the running thread's stack: part of the level at entry
        anon_before, file_before = sampler.restart()
        _CLEAR_REFS.write_text("5")  # Linux: reset VmHWM to the current resident size
        rss_before = _status_bytes("VmRSS")
        cuda = device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            cuda_before = torch.cuda.memory_allocated(device)
        peaks: dict = {}
        yield peaks
    finally:
        sampler.stop()  # also when the operation raised: no thread outlives the block
    peaks["peak_rss_bytes"] = max(0, _status_bytes("VmHWM") - rss_before)
    peaks["peak_anon_bytes"] = max(0, sampler.max_anon - anon_before)
    peaks["peak_file_bytes"] = max(0, sampler.max_file - file_before)
    peaks["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device) - cuda_before if cuda else None
