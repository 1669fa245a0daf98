"""File-system helpers: durability, page-cache eviction, sizes on disk, free space."""
from __future__ import annotations

import ctypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path


def _files(root: Path):
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            yield Path(dirpath, name)


def _dirs(root: Path):
    for dirpath, _, _ in os.walk(root):
        yield Path(dirpath)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(root: Path) -> None:
    """Make the directory entries (new names, renames) of a checkpoint durable, the root's parent too."""
    for d in _dirs(root):
        fsync_path(d)
    fsync_path(root.parent)


_libc = ctypes.CDLL(None, use_errno=True)


def syncfs(path: Path) -> None:
    """Flush the file system that holds `path` (syncfs(2): Python's os has only the global sync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path}")
    finally:
        os.close(fd)


def evict(root: Path) -> None:
    """Drop every file of `root` from the page cache: flush, then POSIX_FADV_DONTNEED on each file."""
    syncfs(root)  # one call instead of an fsync per file: 41,000 clean fsyncs take 3 s here
    for f in _files(root):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_all(root: Path) -> None:
    """Pull every file of `root` into the page cache."""
    for f in _files(root):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


@dataclass(frozen=True)
class Usage:
    n_files: int
    apparent_bytes: int  # sum of st_size
    disk_bytes: int  # sum of st_blocks * 512


def usage(root: Path) -> Usage:
    stats = [f.stat() for f in _files(root)]
    return Usage(len(stats), sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats))


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def filesystem_of(path: Path) -> dict:
    """The mount (device, type, mount point) that holds `path`, from /proc/self/mounts."""
    real = os.path.realpath(path)
    best = {"device": "unknown", "fstype": "unknown", "mountpoint": "/"}
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return best
    longest = -1
    for line in lines:
        device, mountpoint, fstype = line.split()[:3]
        mountpoint = mountpoint.replace("\\040", " ")
        inside = real == mountpoint or real.startswith(mountpoint.rstrip("/") + "/")
        if inside and len(mountpoint) > longest:
            longest = len(mountpoint)
            best = {"device": device, "fstype": fstype, "mountpoint": mountpoint}
    return best
