"""Running the benchmark suite the way a user does, in a subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bench_process(*args: str, storage: Path, target: Path = REPO / "bench") -> dict:
    """The command, directory and environment of a benchmark run, as keyword arguments for subprocess."""
    cmd = [sys.executable, "-m", "pytest", str(target), "--rootdir", str(REPO), "-c", str(REPO / "pytest.ini"),
           "--benchmark-only", "-p", "no:cacheprovider", f"--benchmark-storage=file://{storage}", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # so that `-p tests.fake_methods` imports
    return {"args": cmd, "cwd": storage.parent, "env": env}  # pytest-benchmark's compare needs its storage under the cwd


def run_bench(*args: str, storage: Path, timeout: int = 300, target: Path = REPO / "bench") -> subprocess.CompletedProcess:
    """pytest bench/ as a user runs it, to the end."""
    return subprocess.run(**bench_process(*args, storage=storage, target=target), capture_output=True, text=True, timeout=timeout)


def bytes_held(root: Path) -> int:
    """What a directory tree takes on disk, its directories included."""
    return sum(p.lstat().st_blocks * 512 for p in [root, *root.rglob("*")])


def usage_line(proc: subprocess.CompletedProcess) -> str:
    """The one line a stopped run answers a mistake with; fails unless that is all the user gets."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output[-3000:]
    assert "Traceback" not in output
    (line,) = [ln for ln in output.splitlines() if ln.startswith("ERROR:")]
    return line


def stored_runs(storage: Path) -> list[Path]:
    return sorted(storage.glob("*/*.json"))


def load_run(path: Path) -> dict:
    return json.loads(path.read_text())
