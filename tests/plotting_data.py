"""Runs for the report tests: two real tiny runs (tests/data, trimmed) and the original guide's published table as a run."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_run.json"  # `pytest bench/ --benchmark-only --ckpt-model tiny --benchmark-save-data`
TINY_NOFSYNC = DATA / "tiny_run_nofsync.json"  # the same with --ckpt-durability none
# Runs on one NVIDIA H200 (README, CUDA): tiny with every method, small with the six and with seven others, and the
# openllama-3b workload with five methods; stored before params were plain strings (schema 1)
CUDA_RUNS = sorted((DATA / "cuda").glob("*.json"))
CUDA_SMALL = DATA / "cuda" / "cuda-h200-small-six.json"
SIX = ("pytorch", "tensorstore", "t5x", "ts+concurrency", "ts+chunks", "ts+compression")

# The original guide's "6-Way Comparison Table" (docs/original-guide.md): save ms, load ms, size GB (binary GiB)
SEED_TABLE = {
    "pytorch": (5947.0, 3602.0, 2.73),
    "tensorstore": (143118.0, 17530.0, 2.58),
    "t5x": (66450.0, 29355.0, 2.59),
    "ts+concurrency": (98450.0, 16680.0, 2.58),
    "ts+chunks": (67890.0, 21450.0, 2.59),
    "ts+compression": (145670.0, 24890.0, 2.52),
}


def tiny_json(path: Path = TINY) -> dict:
    return json.loads(path.read_text())


def keep(data: dict, predicate) -> dict:
    """A copy of a run with only the benchmarks for which predicate(entry) holds."""
    return {**data, "benchmarks": [b for b in data["benchmarks"] if predicate(b)]}


def seed_json() -> dict:
    """The minimal run a hand could build from the original guide's table: group, param, stats.median, disk_bytes."""
    return {
        "benchmarks": [
            {
                "group": group,
                "param": method,
                "stats": {"median": ms / 1000},
                "extra_info": {"disk_bytes": round(gib * 2**30)},
            }
            for method, (save, load, gib) in SEED_TABLE.items()
            for group, ms in (("save", save), ("load-cold", load))
        ]
    }


def write(directory: Path, data, name: str = "run.json") -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def rounds_json(rounds: dict[tuple[str, str], list[float]], model: str = "tiny") -> dict:
    """A hand-made run from the round times (seconds) of each (group, method id), or ("ceiling", op)."""
    def entry(group: str, name: str, data: list[float]) -> dict:
        info = {"method": "ceiling", "op": name} if group == "ceiling" else {"method": name}
        return {
            "group": group,
            "param": name,
            "stats": {"median": statistics.median(data), "rounds": len(data), "data": data},
            "extra_info": {**info, "model": model, "logical_bytes": 10**6},
        }

    return {"benchmarks": [entry(group, name, data) for (group, name), data in rounds.items()]}


def ranks_json(world_size: int, gbps: dict[str, tuple[float, float]], ceiling: tuple[float, float] | None = None,
               resharded: dict[tuple[str, int], float] | None = None, model: str = "tiny",
               logical_bytes: int = 10**9, nnodes: int = 1) -> dict:
    """A hand-made run at one world size (torchrun): each method's (save, load-cold) GB/s, the disk ceiling's (write,
    read-cold) GB/s, and cold loads of checkpoints saved by other world sizes: (method, saved world size) -> GB/s."""
    def entry(group: str, method: str, gb_s: float, saved: int = world_size, op: str | None = None) -> dict:
        info = {"method": method, "model": model, "logical_bytes": logical_bytes, "world_size": world_size,
                "nnodes": nnodes, "schema_version": 3, **({"op": op} if op else {})}
        if group.startswith("load"):
            info["saved_world_size"] = saved
        params = {"method": method, **({"op": op} if op else {})}
        return {"group": group, "params": params, "param": op or method,
                "stats": {"median": logical_bytes / (gb_s * 1e9), "rounds": 3}, "extra_info": info}

    benchmarks = [entry(g, m, v) for m, pair in gbps.items() for g, v in zip(("save", "load-cold"), pair)]
    benchmarks += [entry("ceiling", "ceiling", v, op=op) for op, v in zip(("write", "read-cold"), ceiling or ())]
    benchmarks += [entry("load-resharded", m, v, saved) for (m, saved), v in (resharded or {}).items()]
    return {"benchmarks": benchmarks, "machine_info": {}, "datetime": "2026-01-01T00:00:00"}


def train_json(none: float | None, rounds: dict[tuple[str, str], float], loop: dict | None = None) -> dict:
    """A hand-made run with --ckpt-async's train group: the median round (seconds) without checkpoints, and of each
    (method id, mode); the save and load-cold that every report needs come from rounds_json."""
    loop = loop or {"steps": 20, "every": 5, "tokens": 512, "batch": 4, "sequence": 128}
    run = rounds_json({(g, m): [0.01] for g in ("save", "load-cold") for m, _ in rounds})

    def entry(method: str, mode: str, median: float) -> dict:
        info = {"method": method, "mode": mode, "train": loop, "model": "tiny", "state": "adam", "logical_bytes": 10**6}
        return {"group": "train", "params": {"method": method, "mode": mode}, "stats": {"median": median, "rounds": 3},
                "extra_info": info}

    run["benchmarks"] += [entry(m, mode, t) for (m, mode), t in rounds.items()]
    run["benchmarks"] += [entry("none", "none", none)] if none is not None else []
    return run


def with_order(data: dict, order: str) -> dict:
    """The run as schema 5 stores it: each benchmark's `order` and `rounds_at`, the rounds of a group's methods
    alternating (interleaved: cycle k runs every method's k-th round) or back to back (blocked), group after group."""
    groups: dict[str, list[dict]] = {}
    for entry in data["benchmarks"]:
        groups.setdefault(entry["group"], []).append(entry)
    at = 0
    for entries in groups.values():
        counts = [len(e["stats"]["data"]) for e in entries]
        slots = [(i, k) for k in range(max(counts)) for i in range(len(entries))]
        if order == "blocked":
            slots.sort()
        positions: list[list[int]] = [[] for _ in entries]
        for i, k in slots:
            if k < counts[i]:
                positions[i].append(at)
                at += 1
        for entry, rounds_at in zip(entries, positions):
            entry["extra_info"].update(order=order, rounds_at=rounds_at, run="one-run", schema_version=5)
    return data
