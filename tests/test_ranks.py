"""Several ranks: the layout (bench.sharding) in this process; the suite under torchrun (2 ranks, or two "hosts" on
127.0.0.1) in subprocesses, each a few tens of seconds on 2 cores."""
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from bench import sharding
from bench.backends.tensorstore import TensorStore
from bench.chunks import FixedChunks
from bench.workspace import OWNER, PREFIX, remove_abandoned
from runschema import ASYNC_DURABLE, ASYNC_STALL
from tests.helpers import REPO, load_run

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
METHODS = "pytorch,safetensors,dcp,dcp-process,t5x,ts+tuned,ocdbt"


def test_rows_are_torch_chunk_sizes_and_small_tensors_are_replicated():
    assert [sharding.rows((5, 3), 4, r) for r in range(4)] == [(0, 2), (2, 4), (4, 5), (5, 5)]
    assert [t.shape[0] for t in torch.empty(5, 3).chunk(4)] == [2, 2, 1]  # the last rank's is empty
    small = sharding.piece((1, 8), torch.float32, 2, 1)
    assert small.replicated and small.local_shape == (1, 8) and not small.writes(1) and small.writes(0)
    assert sharding.piece((), torch.float32, 2, 1).replicated
    p = sharding.piece((7, 2), torch.float16, 2, 1)
    assert (p.start, p.stop, p.local_shape, p.replicated, p.writes(1)) == (4, 7, (3, 2), False, True)


@pytest.mark.parametrize("rows, saved, loading", [
    (11, 2, 1), (11, 1, 2), (11, 3, 2), (11, 2, 3), (11, 4, 4),
    (3, 2, 4), (3, 4, 2), (1, 1, 2), (0, 2, 1),  # replicated on one side, sharded on the other; no rows at all
])
def test_a_piece_is_assembled_from_the_saved_pieces_that_overlap_it(rows, saved, loading):
    full = torch.arange(rows * 3, dtype=torch.float32).reshape(rows, 3)
    files = {r: sharding.piece(full.shape, full.dtype, saved, r).of(full).clone() for r in range(saved)}
    for rank in range(loading):
        p = sharding.piece(full.shape, full.dtype, loading, rank)
        parts = [(theirs, files[r]) for r, theirs in sharding.overlapping(p, saved)]
        assert torch.equal(sharding.assemble(p, parts, "cpu"), p.of(full))


@pytest.mark.parametrize("rows, world, chunk_rows", [(1000, 2, 50), (32000, 2, 64), (1024, 3, 57), (172, 2, 43)])
def test_no_chunk_straddles_two_ranks(rows, world, chunk_rows, tmp_path):
    fmt = TensorStore(chunks=FixedChunks(64))
    p = sharding.piece((rows, 64), torch.float32, world, 0)
    spec = fmt.write_spec(tmp_path, "t", p.shape, np.dtype("float32"), (p.stop - p.start, 64))
    chunk = spec["metadata"]["chunks"][0]
    assert chunk == chunk_rows
    starts = [sharding.rows((rows, 64), world, r)[0] for r in range(world)]
    assert all(s % chunk == 0 for s in starts)  # every rank's region begins on a chunk boundary


def test_an_abandoned_workspace_on_this_host_is_removed_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = [tmp_path / f"{PREFIX}dead", tmp_path / f"{PREFIX}alive", tmp_path / f"{PREFIX}elsewhere"]
    owners = [(socket.gethostname(), int(dead.stdout)), (socket.gethostname(), os.getpid()), ("another-host", 1)]
    for path, (host, pid) in zip(mine, owners):
        path.mkdir()
        (path / OWNER).write_text(json.dumps({"host": host, "pid": pid}))
    (tmp_path / f"{PREFIX}no-owner").mkdir()
    (tmp_path / "user-data").mkdir()
    assert remove_abandoned(tmp_path) == [mine[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{PREFIX}alive", f"{PREFIX}elsewhere", f"{PREFIX}no-owner", "user-data"])


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bench(launcher: list[str], tmp_path, *args: str) -> list[str]:
    return [*launcher, "-m", "pytest", str(REPO / "bench"), "--rootdir", str(REPO), "-c", str(REPO / "pytest.ini"),
            "--benchmark-only", "-p", "no:cacheprovider", "--benchmark-storage", f"file://{tmp_path / 'storage'}",
            "--ckpt-dir", str(tmp_path / "ckpt"), "--benchmark-min-rounds=1", *args]


def _run(cmd: list[str], tmp_path, timeout: int = 600) -> subprocess.CompletedProcess:
    (tmp_path / "ckpt").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def _groups(run: dict) -> dict:
    return {(b["group"], b["params"]["method"], b["params"].get("reshard")): b["extra_info"] for b in run["benchmarks"]}


def test_two_ranks_round_trip_every_method_and_reshard(tmp_path):
    """Nested Adam state with a tied tensor in bfloat16: sharded, replicated (step) and aliased tensors, every
    distributed method, resharding 2 -> 1 and 1 -> 2, asynchronous saves that are overwritten right after their
    stall, all verified bitwise by the benchmarks themselves."""
    cmd = _bench([*TORCHRUN, "--standalone", "--nproc-per-node", "2"], tmp_path, "--ckpt-model", "tiny-tied",
                 "--ckpt-state", "adam", "--ckpt-dtype", "bfloat16", "--ckpt-methods", METHODS, "--ckpt-async",
                 "-rs", "--benchmark-json", str(tmp_path / "run.json"))
    proc = _run(cmd, tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    groups = _groups(load_run(tmp_path / "run.json"))
    for method in METHODS.split(","):
        save, load = groups[("save", method, None)], groups[("load-cold", method, None)]
        assert (save["world_size"], load["world_size"], load["saved_world_size"]) == (2, 2, 2)
        assert sum(save["rank_bytes"].values()) == save["logical_bytes"]  # each byte written by one rank
        assert save["apparent_bytes"] < 1.5 * save["logical_bytes"]  # a rank writes its piece, not the whole tensor
        for group in (ASYNC_STALL, ASYNC_DURABLE):
            saved_async = groups[(group, method, None)]
            assert (saved_async["world_size"], saved_async["rank_bytes"]) == (2, save["rank_bytes"])
            assert saved_async["apparent_bytes"] < 1.5 * saved_async["logical_bytes"]
        assert (groups[("load-resharded", method, "to-1")]["world_size"],
                groups[("load-resharded", method, "to-1")]["saved_world_size"]) == (1, 2)
        assert (groups[("load-resharded", method, "from-1")]["world_size"],
                groups[("load-resharded", method, "from-1")]["saved_world_size"]) == (2, 1)
    assert "train: the training loop runs in one process" in proc.stdout  # the reason of the train group's skips
    assert proc.stdout.count("ckpt-bench model:") == 1  # rank 1 prints nothing
    assert len(list((tmp_path / "storage").rglob("*.json"))) == 1  # pytest.ini's autosave: by rank 0 alone
    assert list((tmp_path / "ckpt").iterdir()) == []


def test_two_hosts_on_localhost(tmp_path):
    port = _port()
    launch = [*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
              "--rdzv-endpoint", f"127.0.0.1:{port}"]
    hosts = [subprocess.Popen(_bench([*launch, "--node-rank", str(n)], tmp_path, "--ckpt-model", "tiny",
                                     "--ckpt-methods", "pytorch,t5x", "--benchmark-json", str(tmp_path / "run.json"),
                                     "-k", "not warm"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
             for n in range(2)]
    (tmp_path / "ckpt").mkdir(exist_ok=True)
    outputs = [h.communicate(timeout=600)[0] for h in hosts]
    assert [h.returncode for h in hosts] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    groups = _groups(load_run(tmp_path / "run.json"))
    assert {(e["world_size"], e["nnodes"]) for (g, _, _), e in groups.items() if g == "save"} == {(2, 2)}
    assert ("load-resharded", "t5x", "from-1") in groups


def _stopped(method: str, tmp_path, *args: str, k: str = "save") -> str:
    cmd = _bench([*TORCHRUN, "--standalone", "--nproc-per-node", "2"], tmp_path, "--ckpt-model", "tiny",
                 "--ckpt-methods", method, "-p", "tests.fake_methods", "-k", k, *args)
    proc = _run(cmd, tmp_path, timeout=400)
    assert proc.returncode != 0
    assert list((tmp_path / "ckpt").iterdir()) == []  # no leftovers
    return proc.stdout + proc.stderr


def test_a_rank_that_fails_mid_save_stops_every_rank_with_its_line(tmp_path):
    output = _stopped("rank-fails", tmp_path)
    assert "Exit: rank 1: OSError: [Errno 28] No space left on device (test)" in output, output[-4000:]


def test_a_rank_killed_mid_save_ends_the_run_with_a_line_naming_it(tmp_path):
    """Which comes first is a race: rank 0 sees the closed connection and stops with its line, or torchrun, having
    seen rank 1 die, ends rank 0 and names the killed rank in its report."""
    output = _stopped("rank-dies", tmp_path)
    ours = "Exit: a rank left the process group while rank 0 waited for it" in output
    torchrun = "Signal 9 (SIGKILL)" in output and re.search(r"rank\s*: 1 \(local_rank: 1\)", output)
    assert ours or torchrun, output[-4000:]


def test_an_async_save_failing_on_one_rank_is_its_line_on_every_rank(tmp_path):
    """Rank 1's background write fails (disk full); every rank's wait() raises it, named, and nothing is left."""
    output = _stopped("async-fails", tmp_path, "--ckpt-async", k="async_durable")
    assert re.search(r"Exit: rank 1: CheckpointError: async-fails: the asynchronous save to \S+ failed in the "
                     r"background \(OSError: \[Errno 28\] No space left on device \(test\)\)", output), output[-4000:]


def test_a_torn_async_save_at_two_ranks_fails_its_round(tmp_path):
    """The overwrite after the stall reaches the pieces each rank holds: a save without a snapshot is caught."""
    output = _stopped("no-snapshot", tmp_path, "--ckpt-async", k="async_stall")
    assert re.search(r"Exit: rank [01]: no-snapshot: \d+ tensors did not round-trip bitwise", output), output[-4000:]
