"""Running the benchmark suite the way a user does, in a subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_bench(*args: str, storage: Path, timeout: int = 300, target: Path = REPO / "bench") -> subprocess.CompletedProcess:
    """pytest bench/ from the storage's parent: pytest-benchmark's compare needs its storage under the cwd."""
    cmd = [sys.executable, "-m", "pytest", str(target), "--rootdir", str(REPO), "-c", str(REPO / "pytest.ini"),
           "--benchmark-only", "-p", "no:cacheprovider", f"--benchmark-storage=file://{storage}", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # so that `-p tests.fake_methods` imports
    return subprocess.run(cmd, cwd=storage.parent, env=env, capture_output=True, text=True, timeout=timeout)


def stored_runs(storage: Path) -> list[Path]:
    return sorted(storage.glob("*/*.json"))


def load_run(path: Path) -> dict:
    return json.loads(path.read_text())
