"""Test-only disk instruments for a real benchmark run, with `-p tests.fake_disk`.

CKPT_FAKE_FREE_BYTES: the free space --ckpt-dir reports. CKPT_PEAK_FILE: where the most the run's workspace ever held
on disk (files and directories, at the end of every test's setup and call) is written when the run ends.
"""
import os
from pathlib import Path

from bench import disk
from tests.helpers import bytes_held

if "CKPT_FAKE_FREE_BYTES" in os.environ:
    disk.free_bytes = lambda path: int(os.environ["CKPT_FAKE_FREE_BYTES"])

_peak = 0


def pytest_runtest_makereport(item, call):  # returns None: pytest's own implementation still makes the report
    global _peak
    workspace = getattr(item, "funcargs", {}).get("workspace")
    if workspace is not None and call.when in ("setup", "call"):
        _peak = max(_peak, bytes_held(workspace.root))


def pytest_unconfigure(config):
    if "CKPT_PEAK_FILE" in os.environ:
        Path(os.environ["CKPT_PEAK_FILE"]).write_text(str(_peak))
