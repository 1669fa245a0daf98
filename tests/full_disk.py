"""Asynchronous saves onto a disk that fills up mid-write, for real: run as root of a user and mount namespace
(`unshare --user --map-root-user --mount python -m tests.full_disk ROOT ID...`, tests/test_async.py). For each method
id, a tmpfs under ROOT with room for every array's metadata and half the data, an asynchronous save into it, wait()
and load(); one JSON line per method says what each raised."""
import json
import subprocess
import sys
from pathlib import Path

import torch

from bench import checkpoint
from bench.async_save import process_group, staging
from bench.checkpoint import CheckpointError
from bench.methods import REGISTRY
from bench.models import preset_state_dict

PAGE = 4096


def fill(root: Path, method_id: str, state: dict) -> dict:
    logical = sum(t.nelement() * t.element_size() for t in state.values())
    where = root / method_id
    where.mkdir()
    size = logical // 2 + PAGE * (len(state) + 8)  # half the data; a page for each array's metadata and the suite's files
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    method, outcome = REGISTRY[method_id], {"method": method_id}
    with staging() as buffers:
        try:
            pending = checkpoint.save_async(method, state, where, "fsync", buffers)
            outcome["wait"] = None
            pending.wait()
        except CheckpointError as e:
            outcome["wait" if "wait" in outcome else "stall"] = str(e)
    try:
        checkpoint.load(method, where, torch.device("cpu"))
        outcome["load"] = None
    except CheckpointError as e:
        outcome["load"] = str(e)
    return outcome


def main(root: str, method_ids: list[str]) -> None:
    state = preset_state_dict("tiny")
    with process_group():  # DCP's async_save needs one
        for method_id in method_ids:
            print(json.dumps(fill(Path(root), method_id, state)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
