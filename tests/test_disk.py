"""Eviction, sizes, durability and request-count helpers."""
import os
from pathlib import Path

import pytest
import torch

from bench import checkpoint, disk
from bench.methods import REGISTRY
from bench.models import preset_state_dict
from tests.pagecache import resident_fraction


def test_cold_setup_evicts_and_warm_setup_caches_every_file(workspace):
    tensors = preset_state_dict("tiny")
    for method in (REGISTRY["pytorch"], REGISTRY["tensorstore"]):
        root = workspace.fresh(method.id)
        checkpoint.save(method, tensors, root, "none")  # dirty pages: eviction must flush them first
        disk.read_all(root)
        assert resident_fraction(root) == 1.0
        disk.evict(root)
        assert resident_fraction(root) == 0.0
        checkpoint.load(method, root, torch.device("cpu"))
        assert resident_fraction(root) == 1.0  # a real read brings the pages back
        disk.evict(root)
        disk.read_all(root)
        assert resident_fraction(root) == 1.0


def test_usage_counts_files_and_blocks(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 5000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 10)
    u = disk.usage(tmp_path)
    assert (u.n_files, u.apparent_bytes) == (2, 5010)
    assert u.disk_bytes >= 5010 and u.disk_bytes % 512 == 0


def test_many_small_chunks_make_thousands_more_files_than_large_ones(workspace):
    big = {"w": torch.zeros(4096, 4096, dtype=torch.float16)}
    counts = {}
    for method_id in ("tensorstore", "ts+chunks", "t5x", "pytorch"):
        root = workspace.fresh(method_id)
        checkpoint.save(REGISTRY[method_id], big, root, "none")
        counts[method_id] = disk.usage(root).n_files
    assert counts == {"tensorstore": 64 * 64 + 1, "ts+chunks": 64 + 1, "t5x": 1 + 1, "pytorch": 1}


def test_filesystem_of_names_the_mount(tmp_path):
    fs = disk.filesystem_of(tmp_path)
    assert fs["fstype"] != "unknown" and str(tmp_path).startswith(fs["mountpoint"])


def test_the_request_counters_see_a_synced_write_and_a_cold_read(tmp_path):
    device = disk.counted_device(tmp_path)
    if device is None or disk.requests(device) is None:
        pytest.skip(f"{tmp_path} is on no block device whose requests /proc/diskstats counts (tmpfs, overlay)")
    path, data = tmp_path / "f", os.urandom(2**20)
    before = disk.requests(device)
    with open(path, "wb") as f:
        f.write(data)
        os.fsync(f.fileno())
    written = disk.requests(device) - before
    assert written.writes >= 1 and written.write_bytes >= len(data)
    disk.evict(tmp_path)
    before = disk.requests(device)
    assert path.read_bytes() == data
    read = disk.requests(device) - before
    assert read.reads >= 1 and read.read_bytes >= len(data)


def test_no_request_counters_without_a_block_device_or_with_its_iostats_off(tmp_path, monkeypatch):
    assert disk.counted_device(Path("/proc")) is None  # st_dev major 0, as tmpfs, overlay and btrfs have
    dev = os.stat(tmp_path).st_dev
    if os.major(dev) == 0:
        pytest.skip(f"{tmp_path} is on no block device")
    disk_dir = tmp_path / "sys" / "disk"
    (disk_dir / "queue").mkdir(parents=True)
    (disk_dir / "part").mkdir()
    (tmp_path / "sys" / f"{os.major(dev)}:{os.minor(dev)}").symlink_to(disk_dir / "part")  # a partition of `disk`
    monkeypatch.setattr(disk, "SYSFS_BLOCK", tmp_path / "sys")
    (disk_dir / "queue" / "iostats").write_text("1\n")
    assert disk.counted_device(tmp_path) == (os.major(dev), os.minor(dev))
    (disk_dir / "queue" / "iostats").write_text("0\n")  # the kernel keeps the line but counts nothing
    assert disk.counted_device(tmp_path) is None
