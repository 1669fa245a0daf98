"""The suite's own directory inside --ckpt-dir: everything it writes lives there, and only that is deleted."""
from __future__ import annotations

import atexit
import itertools
import shutil
import signal
import tempfile
from pathlib import Path

from bench.disk import syncfs

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


def raise_on_termination() -> None:
    """Turn SIGTERM (kill, a job scheduler) and SIGHUP (a closed terminal) into KeyboardInterrupt, so that pytest tears
    down and the workspace goes, as on Ctrl-C; a signal set to be ignored (nohup) stays ignored."""

    def handler(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, handler)


class Slot:
    """The one checkpoint of a method kept on disk: each save round replaces it, the loads read the last."""

    def __init__(self, workspace: Workspace, label: str):
        self._workspace, self._label = workspace, label
        self.root: Path | None = None
        self.verified = False

    def replace(self) -> Path:
        """Discard the current checkpoint and hand out a fresh empty directory for the next one, both already on disk."""
        self.discard()
        self.root = self._workspace.fresh(self._label)
        syncfs(self.root)  # else the next save's first fsync commits this deletion's journal entries, inside the timer
        return self.root

    def discard(self) -> None:
        if self.root is not None:
            self._workspace.discard(self.root)
        self.root, self.verified = None, False
