"""The suite's own directory inside --ckpt-dir: everything it writes lives there, and only that is deleted."""
from __future__ import annotations

import atexit
import itertools
import shutil
import signal
import tempfile
from pathlib import Path

PREFIX = "ckpt-bench-"


class Workspace:
    def __init__(self, parent: Path):
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        self._counter = itertools.count()
        atexit.register(self.remove)

    def fresh(self, label: str) -> Path:
        """A new empty directory that the suite owns."""
        path = self.root / f"{label}-{next(self._counter)}"
        path.mkdir()
        return path

    def discard(self, path: Path) -> None:
        """Delete a directory made by fresh(), and nothing else."""
        if path.parent != self.root:
            raise ValueError(f"refusing to delete {path}: not made by this run")
        shutil.rmtree(path, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so that pytest tears down and the workspace goes, as on Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
