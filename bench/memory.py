"""Peak memory of one operation, from the kernel's high-water mark (and CUDA's allocator) around it."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import torch

from bench.disk import libc

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M).group(1)) * 1024


@contextmanager
def peak_memory(device: torch.device):
    """Yields a dict that holds, on exit, the peaks above the levels at entry (bytes)."""
    libc.malloc_trim(0)  # glibc: hand freed heap back, or reusing it would hide part of the peak
    _CLEAR_REFS.write_text("5")  # Linux: reset VmHWM to the current resident size
    rss_before = _status_bytes("VmRSS")
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        cuda_before = torch.cuda.memory_allocated(device)
    peaks: dict = {}
    yield peaks
    peaks["peak_rss_bytes"] = max(0, _status_bytes("VmHWM") - rss_before)
    peaks["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device) - cuda_before if cuda else None
