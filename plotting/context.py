"""Where and how a run was measured, as stored: so that a table pasted into a PR says what it is."""
from __future__ import annotations

from plotting.runs import Run


def _rounds(run: Run) -> str | None:
    counts = sorted({s.rounds for s in (*run.stats.values(), *run.ceiling.values()) if s.rounds})
    return "-".join(map(str, (counts[0], counts[-1]) if len(counts) > 1 else counts)) or None


def _commit(run: Run) -> str | None:
    commit = run.commit.get("id")
    if not isinstance(commit, str):
        return None
    return commit[:10] + (" (with uncommitted changes)" if run.commit.get("dirty") else "")


def context(run: Run) -> dict[str, str]:
    """The workload, the machine, the software versions, the commit and the rounds, where the run stores them."""
    bench = run.machine.get("ckpt_bench") or {}
    found = {
        **run.workload,
        "machine": run.machine.get("node"),
        "cpu": (run.machine.get("cpu") or {}).get("brand_raw"),
        "cores": bench.get("cpus_usable") or (run.machine.get("cpu") or {}).get("count"),
        "gpu": bench.get("cuda_device"),
        "filesystem": (bench.get("ckpt_filesystem") or {}).get("fstype"),
        "torch": bench.get("torch"),
        "tensorstore": bench.get("tensorstore"),
        "commit": _commit(run),
        "timed rounds": _rounds(run),
        "date": run.when[:19].replace("T", " ") if run.when else None,
    }
    return {k: str(v) for k, v in found.items() if v is not None}


def context_lines(run: Run) -> list[str]:
    return [f"- {k}: {v}" for k, v in context(run).items()]
