"""File-system helpers: durability, page-cache eviction, sizes on disk, free space, the disk's request counters."""
from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from math import ceil, prod
from pathlib import Path

from bench.aliases import encode, split, unique_bytes


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


libc = ctypes.CDLL(None, use_errno=True)  # syncfs(2) and malloc_trim(3): Python exposes neither


def syncfs(path: Path) -> None:
    """Flush the file system that holds `path` (syncfs(2): Python's os has only the global sync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syncfs(fd) != 0:
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


@dataclass(frozen=True)
class Requests:
    """Requests a block device has completed, and the bytes they moved (/proc/diskstats counts 512-byte sectors)."""

    reads: int
    read_bytes: int
    writes: int
    write_bytes: int

    def __sub__(self, before: Requests) -> Requests:
        return Requests(self.reads - before.reads, self.read_bytes - before.read_bytes,
                        self.writes - before.writes, self.write_bytes - before.write_bytes)


SYSFS_BLOCK = Path("/sys/dev/block")


def counted_device(path: Path) -> tuple[int, int] | None:
    """(major, minor) of the block device that holds `path`, if the kernel counts its requests. None where `st_dev` is
    no block device (major 0: tmpfs, overlay, btrfs, NFS, ZFS, FUSE) or the device's queue has iostats off."""
    dev = os.stat(path).st_dev
    if os.major(dev) == 0:
        return None
    device = os.major(dev), os.minor(dev)
    sysfs = (SYSFS_BLOCK / f"{device[0]}:{device[1]}").resolve()
    for queue in (sysfs / "queue", sysfs.parent / "queue"):  # a partition's queue is its disk's
        try:
            if (queue / "iostats").read_text().strip() == "0":
                return None
            break
        except OSError:
            continue
    return device


def requests(device: tuple[int, int]) -> Requests | None:
    """The device's counters so far, from /proc/diskstats: Linux's, the whole system's (on device-mapper and md, the
    requests of the virtual device). None where the device has no line there or the system has no such file."""
    try:
        lines = Path("/proc/diskstats").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) >= 10 and (int(f[0]), int(f[1])) == device:  # reads, merged, sectors, ms, writes, merged, sectors
            return Requests(int(f[3]), int(f[5]) * 512, int(f[7]), int(f[9]) * 512)
    return None


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


def probe_writable(path: Path) -> None:
    """Raise OSError unless a directory can be made (and is removed again) in `path`: os.access says yes to root
    even on a read-only file system."""
    os.rmdir(tempfile.mkdtemp(prefix=".ckpt-bench-probe-", dir=path))


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def block_bytes(path: Path) -> int:
    """The file system's allocation unit: every file takes a whole number of these."""
    return os.statvfs(path).f_frsize


DIRENT_BYTES = 64  # a chunk file's entry in its directory: ext4 needs 8 bytes plus the name, rounded to 4
TENSOR_BLOCKS = 5  # a metadata file (.zarray, zarr.json), up to three directories (zarr3: <name>/c/0/), a shard index
SPACE_SLACK = 64 * 2**20  # headroom for the file system's own metadata and whatever else writes to the disk meanwhile


def _round_up(n: int, block: int) -> int:
    return -(-n // block) * block


def checkpoint_bound(method, tensors: dict, block: int) -> int:
    """The most a method's checkpoint of `tensors` takes on disk: every chunk padded to its full shape (zarr v2
    stores edge chunks whole) in a file of its own rounded up to the block, its directory entry, and per tensor a few
    blocks of metadata and directories. Packed layouts (one file, shards, OCDBT) take less. A codec is taken not to
    grow the data: weights compress (their exponent bits repeat), and random bytes would grow by a few per chunk.
    A shared tensor is stored once; its aliases take one small file between them."""
    stored, aliases = split(tensors)
    total = block + (_round_up(len(encode(aliases)), block) if aliases else 0)  # its directory, and the alias map
    for t in stored.values():
        shape, itemsize = tuple(t.shape), t.element_size()
        chunk = method.format.chunk_shape(shape, itemsize)
        chunk_bytes = prod(chunk) * itemsize
        n_chunks = prod(ceil(d / c) for d, c in zip(shape, chunk))
        total += n_chunks * (_round_up(chunk_bytes, block) + DIRENT_BYTES) + TENSOR_BLOCKS * block
    return total


def space_needed(methods, tensors: dict, block: int, copies: int = 1, together=()) -> tuple[int, str]:
    """Free bytes a run needs, and what takes the most. Blocked, one checkpoint is on disk at a time: a save round
    discards the previous round's before it writes (Slot.replace), each method's slot goes before the next method
    starts, and the ceiling file's slot goes at the end of its module. `together`: the methods whose checkpoints are
    all on disk at once (interleaved rounds: bench.schedule). `copies`: a method's checkpoints on disk at once (2 at
    several ranks: the ranks' own and the one rank 0 wrote alone, for the resharded loads)."""
    times = f" x{copies}" if copies > 1 else ""
    sizes = {"the ceiling file": _round_up(unique_bytes(tensors), block) + block}
    sizes.update((f"{m.id}'s checkpoint{times}", copies * checkpoint_bound(m, tensors, block)) for m in methods)
    if len(together) > 1:
        sizes[f"the checkpoints of {', '.join(m.id for m in together)}{times} at once, for interleaved rounds"] = sum(
            copies * checkpoint_bound(m, tensors, block) for m in together)
    largest = max(sizes, key=sizes.get)
    return sizes[largest] + SPACE_SLACK, largest


def human_bytes(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


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
