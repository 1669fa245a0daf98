"""What identifies the machine a run measured, for pytest-benchmark's machine_info: only what stays put between runs,
since pytest-benchmark warns on every compare whose machine_info differs."""
from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import torch

from bench import disk

PACKAGES = ("torch", "tensorstore", "transformers", "safetensors", "pytest-benchmark")
VOLATILE_CPU = ("hz_actual", "hz_actual_friendly")  # py-cpuinfo's measured clock moves from run to run
EVICTION = "syncfs of the checkpoint's file system, then posix_fadvise(POSIX_FADV_DONTNEED) on every file"
_CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_dir() -> Path:
    """This process's cgroup v2 directory (the line "0::/path" of /proc/self/cgroup)."""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        if line.startswith("0::"):
            return _CGROUP / line[3:].lstrip("/")
    return _CGROUP


def cgroup_limits() -> dict:
    """The CPU (cores) and memory (bytes) limits of the cgroup the run is in; None where there is none."""
    where = _cgroup_dir()
    cpu_max, memory_max = _read(where / "cpu.max"), _read(where / "memory.max")
    if cpu_max is None and memory_max is None:  # cgroup v1
        quota, period = _read(_CGROUP / "cpu/cpu.cfs_quota_us"), _read(_CGROUP / "cpu/cpu.cfs_period_us")
        cpu_max = f"{quota} {period}" if quota and period and quota != "-1" else None
        memory_max = _read(_CGROUP / "memory/memory.limit_in_bytes")
    quota, _, period = (cpu_max or "max").partition(" ")
    cores = int(quota) / int(period) if quota.isdigit() and period.isdigit() else None
    memory = int(memory_max) if memory_max and memory_max.isdigit() and int(memory_max) < 2**60 else None
    return {"cgroup_cpu_cores": cores, "cgroup_memory_bytes": memory}


def threads() -> dict:
    return {
        "cpus_usable": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def update(machine_info: dict, ckpt_dir: Path) -> None:
    """Drop pytest-benchmark's volatile fields and add the suite's: versions, devices, threads, limits, the disk."""
    cpu = machine_info.get("cpu")
    if isinstance(cpu, dict):
        for key in VOLATILE_CPU:
            cpu.pop(key, None)
    machine_info["ckpt_bench"] = {
        **{pkg: version(pkg) for pkg in PACKAGES},
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        **threads(),
        **cgroup_limits(),
        "ckpt_dir": str(ckpt_dir),
        "ckpt_filesystem": disk.filesystem_of(ckpt_dir),
        "eviction": EVICTION,
    }
