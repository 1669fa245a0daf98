"""Bad input, faults and damaged checkpoints: one clear line each, nothing of the user's lost, nothing left."""
import ast
import hashlib
import os
import re
import signal
import subprocess
import time
from math import ceil, prod
from pathlib import Path

import pytest
import torch

from bench import checkpoint, disk
from bench.backends import tensorstore as tensorstore_format
from bench.backends.tensorstore import TensorStore
from bench.backends.torch_file import TorchFile
from bench.checkpoint import CheckpointError
from bench.methods import REGISTRY, select
from bench.models import preset_state_dict
from tests.conftest import awkward_tensors
from tests.helpers import REPO, bench_process, bytes_held, run_bench, usage_line

CPU = torch.device("cpu")
TENSORSTORE_FILE = [m for m in REGISTRY.values() if isinstance(m.format, TensorStore) and m.format.kvstore == "file"]
ZARR2_FILE = [m for m in TENSORSTORE_FILE if m.format.driver == "zarr"]  # one file per chunk


def ids(methods):
    return [m.id for m in methods]


# --- what is on disk, to tell the user's files from the suite's ---------------------------------------------------


def snapshot(root: Path) -> dict:
    """Every path under root, symlinks not followed: kind, mode, mtime, and the bytes' hash or the link's target."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            what = ("link", os.readlink(path))
        elif path.is_dir():
            what = ("dir",)
        else:
            what = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        out[str(path.relative_to(root))] = (*what, st.st_mode, st.st_mtime_ns)
    return out


def users_tree(root: Path, outside: Path) -> None:
    """What a user may keep next to the suite: nested files, look-alike names, links in and out."""
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "keep.txt").write_text("outside, linked from inside")
    (outside / "target.bin").write_bytes(os.urandom(3000))
    (root / "nested" / "deeper" / "deepest").mkdir(parents=True)
    (root / "nested" / "deeper" / "deepest" / "weights.pth").write_bytes(os.urandom(5000))
    (root / "nested" / "notes.txt").write_text("my notes")
    (root / "empty-dir").mkdir()
    (root / "ckpt-bench-mine").mkdir()  # named like the suite's own directories
    (root / "ckpt-bench-mine" / "model.pth").write_bytes(os.urandom(2000))
    (root / "ckpt-bench-file").write_text("a file named like the suite's directories")
    (root / "readonly.txt").write_text("read only")
    (root / "readonly.txt").chmod(0o444)
    (root / "link-to-file").symlink_to(outside / "target.bin")
    (root / "ckpt-bench-link").symlink_to(outside / "dir")  # a link named like the suite's, to a user's directory
    (root / "dangling").symlink_to(root / "missing")
    old = time.time() - 86400  # mtimes a day old: a touch by the run would show
    for path in [*root.rglob("*"), *outside.rglob("*")]:
        os.utime(path, (old, old), follow_symlinks=False)


# --- option mistakes that tests/test_options.py does not cover -----------------------------------------------------


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """Broken local model directories, made from a tiny LLaMA saved under good/."""
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("models")
    config = LlamaConfig(hidden_size=32, num_hidden_layers=1, intermediate_size=64, num_attention_heads=2, vocab_size=64)
    LlamaForCausalLM(config).save_pretrained(root / "good")
    (root / "broken-index").mkdir()
    (root / "broken-index" / "model.safetensors.index.json").write_text("{not json")
    (root / "truncated").mkdir()
    (root / "truncated" / "config.json").write_text((root / "good" / "config.json").read_text())
    weights = (root / "good" / "model.safetensors").read_bytes()
    (root / "truncated" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return root


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--ckpt-methods", ""], "--ckpt-methods '' names no method"),
        (["--ckpt-methods", " , "], "--ckpt-methods ' , ' names no method"),
        (["--ckpt-methods", "pytorch,t5x,pytorch"], "--ckpt-methods names pytorch more than once"),
        (["--ckpt-model", "{models}/broken-index"], "broken-index: model.safetensors.index.json is not a JSON object"),
        (["--ckpt-model", "{models}/truncated"], "truncated: model.safetensors cannot be read as a safetensors file"),
        (["--benchmark-storage", "{models}/good/config.json"], "cannot write the run there (Not a directory)"),
    ],
    ids=["methods-empty", "methods-commas", "methods-repeated", "model-broken-index", "model-truncated-weights",
         "storage-unwritable"],
)
def test_a_mistake_found_before_the_first_benchmark_is_one_usage_line(args, expected, model_dirs, tmp_path):
    args = [a.replace("{models}", str(model_dirs)) for a in args]
    _assert_stopped_before_any_benchmark(run_bench(*_tiny_in(tmp_path), *args, storage=tmp_path / "storage"), expected, tmp_path)


def test_benchmark_disable_is_one_usage_line(tmp_path):
    kwargs = bench_process(*_tiny_in(tmp_path), "--benchmark-disable", storage=tmp_path / "storage")
    kwargs["args"].remove("--benchmark-only")  # with it, pytest-benchmark itself says the two exclude each other
    proc = subprocess.run(**kwargs, capture_output=True, text=True, timeout=300)
    _assert_stopped_before_any_benchmark(proc, "--benchmark-disable: this suite's tests are its measurements", tmp_path)


def _tiny_in(tmp_path: Path) -> list[str]:
    (tmp_path / "ckpt").mkdir()
    return ["--ckpt-model", "tiny", "--ckpt-dir", str(tmp_path / "ckpt")]


def _assert_stopped_before_any_benchmark(proc, expected: str, tmp_path: Path) -> None:
    assert expected in usage_line(proc)
    assert not re.search(r"\d+ (passed|failed|errors?)\b", proc.stdout)
    assert list((tmp_path / "ckpt").iterdir()) == [] and list((tmp_path / "storage").glob("*/*.json")) == []


# --- free space -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["tiny", "awkward-float16"])
@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_no_checkpoint_takes_more_than_its_bound(method, model, workspace):
    sd = preset_state_dict("tiny") if model == "tiny" else awkward_tensors(torch.float16)
    root = workspace.fresh(method.id)
    checkpoint.save(method, sd, root, "none")
    assert bytes_held(root) <= disk.checkpoint_bound(method, sd, disk.block_bytes(root))


def _run_with_env(env: dict, *args: str, storage: Path) -> subprocess.CompletedProcess:
    kwargs = bench_process(*args, storage=storage)
    return subprocess.run(**{**kwargs, "env": {**kwargs["env"], **env}}, capture_output=True, text=True, timeout=300)


def _space_run(base: Path, *args: str) -> dict:
    """A whole tiny run in a --ckpt-dir (with spaces in its path) that holds a user's files, on a disk whose free
    space is exactly what the suite says it needs for that order of rounds."""
    ckpt_dir, outside = base / "ckpt dir with spaces", base / "outside"
    ckpt_dir.mkdir()
    users_tree(ckpt_dir, outside)
    before = snapshot(ckpt_dir), snapshot(outside)
    methods = select(None)
    together = methods if "blocked" not in args else ()
    needed, _ = disk.space_needed(methods, preset_state_dict("tiny"), disk.block_bytes(ckpt_dir), together=together)
    env = {"CKPT_FAKE_FREE_BYTES": str(needed), "CKPT_PEAK_FILE": str(base / "peak")}
    proc = _run_with_env(env, "--ckpt-model", "tiny", "--ckpt-dir", str(ckpt_dir), "-p", "tests.fake_disk",
                         "--ckpt-durability", "none", "--benchmark-min-rounds=1", *args, storage=base / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"before": before, "after": (snapshot(ckpt_dir), snapshot(outside)), "needed": needed,
            "peak": int((base / "peak").read_text()), "largest": max(
                disk.checkpoint_bound(m, preset_state_dict("tiny"), disk.block_bytes(ckpt_dir)) for m in methods)}


@pytest.fixture(scope="module")
def users_run(tmp_path_factory):
    """Interleaved rounds (the default): every method's checkpoint is on disk at once."""
    return _space_run(tmp_path_factory.mktemp("owned"))


def test_interleaved_rounds_hold_every_checkpoint_at_once_within_the_estimate(users_run):
    bound = users_run["needed"] - disk.SPACE_SLACK
    assert 0 < users_run["peak"] <= bound
    assert bound < 2 * users_run["peak"]  # honest, not a blanket multiple
    assert users_run["peak"] > users_run["largest"]  # more than one checkpoint at once, as the estimate says


def test_blocked_rounds_hold_one_checkpoint_at_a_time_within_the_estimate(tmp_path):
    blocked = _space_run(tmp_path, "--ckpt-order", "blocked")
    bound = blocked["needed"] - disk.SPACE_SLACK
    assert 0 < blocked["peak"] <= bound
    assert bound < 2 * blocked["peak"]  # two checkpoints at once would not fit


def test_too_little_free_space_stops_the_run_before_it_writes(tmp_path):
    needed, largest = disk.space_needed(select(None), preset_state_dict("tiny"), disk.block_bytes(tmp_path),
                                        together=select(None))
    free = needed - 2**20
    proc = _run_with_env({"CKPT_FAKE_FREE_BYTES": str(free)}, *_tiny_in(tmp_path), "-p", "tests.fake_disk",
                         storage=tmp_path / "storage")
    expected = f"--ckpt-dir {tmp_path / 'ckpt'}: {disk.human_bytes(free)} free, the run needs {disk.human_bytes(needed)}"
    _assert_stopped_before_any_benchmark(proc, expected, tmp_path)
    assert f"({largest} and " in usage_line(proc) and "point --ckpt-dir at a larger disk" in usage_line(proc)


# --- ownership ------------------------------------------------------------------------------------------------------


def test_every_user_file_link_and_directory_is_untouched(users_run):
    (inside_before, outside_before), (inside_after, outside_after) = users_run["before"], users_run["after"]
    assert len(inside_before) == 13 and len(outside_before) == 3
    assert inside_after == inside_before  # nothing added, removed or changed, byte for byte, mtimes included
    assert outside_after == outside_before


# --- interrupts -----------------------------------------------------------------------------------------------------


METADATA = set(tensorstore_format.METADATA.values())


@pytest.mark.parametrize("signum, method_id", [
    # t5x: every tensor in flight at once, gzip and writes in TensorStore's C++ threads, which outlive the interrupt
    (signal.SIGINT, "t5x"),
    # SIGTERM's handler is what turns it into the same interrupt; any save with files on disk shows it
    (signal.SIGTERM, "pytorch"),
], ids=["SIGINT-t5x", "SIGTERM-pytorch"])
def test_a_signal_in_the_middle_of_a_save_leaves_only_the_users_files(signum, method_id, tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    (ckpt_dir / "ckpt-bench-mine").mkdir()
    (ckpt_dir / "ckpt-bench-mine" / "notes.txt").write_text("the user's")
    before = snapshot(ckpt_dir)
    # SIGINT as a terminal delivers it: a job started in the background (nohup, a CI runner) inherits it ignored
    proc = subprocess.Popen(**bench_process("--ckpt-model", "small", "--ckpt-methods", method_id, "--ckpt-dir", str(ckpt_dir),
                                            "-k", "test_save", storage=tmp_path / "storage"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        # the save is writing data: an array's metadata file appears while Python still issues the other arrays' opens
        while not any(p.is_file() and p.name not in METADATA for p in ckpt_dir.glob(f"ckpt-bench-*/{method_id}-*/**/*")):
            assert proc.poll() is None and time.monotonic() < deadline, "the save never started"
            time.sleep(0.02)
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=300)  # a guard against a hang: on a loaded machine the run ends slowly
    finally:
        proc.kill()
    # where the signal lands (mostly while the save waits on TensorStore, on a busy machine sometimes in the next
    # round's setup) depends on timing: what must hold wherever it lands is checked here
    assert proc.returncode == 2, output[-3000:]  # pytest's "interrupted"
    assert "Traceback" not in output
    assert re.search(r"^\S+\.py:\d+: KeyboardInterrupt(: SIGTERM)?$", output, re.M), output[-3000:]
    if signum == signal.SIGTERM:
        assert "KeyboardInterrupt: SIGTERM" in output
    assert snapshot(ckpt_dir) == before


class _Write:
    """A TensorStore write future as an interrupted save sees it: its wait can itself be interrupted (a second
    Ctrl-C) before the write ends."""

    def __init__(self, interruptions: int):
        self.interruptions, self.waited = interruptions, False

    def exception(self):
        if self.interruptions:
            self.interruptions -= 1
            raise KeyboardInterrupt
        self.waited = True


def test_an_interrupted_tensorstore_save_returns_only_once_every_write_has_ended():
    writes = [_Write(0), _Write(2), _Write(0)]
    with pytest.raises(KeyboardInterrupt, match="the first Ctrl-C"):
        with tensorstore_format._InFlight() as track:
            for w in writes:
                track(w)
            raise KeyboardInterrupt("the first Ctrl-C")
    assert all(w.waited for w in writes)
    with tensorstore_format._InFlight() as track:  # a save that ends normally waits on nothing more
        track(_Write(0))
    assert not track[0].waited


def test_sighup_becomes_an_interrupt_unless_the_user_ignores_it():
    from bench.workspace import raise_on_termination

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for s in saved:
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as under a scheduler that says "ignore"
        raise_on_termination()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        assert callable(signal.getsignal(signal.SIGHUP))  # else the kill below would end this test run
        with pytest.raises(KeyboardInterrupt, match="SIGHUP"):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)  # the handler runs at the next bytecode
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


# --- damaged checkpoints --------------------------------------------------------------------------------------------


def _load_error(method, root: Path) -> str:
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(method, root, CPU)
    message = str(e.value)
    assert message.startswith(f"{method.id}: cannot load the checkpoint at {root} (") and "\n" not in message
    return message


def _saved(method, workspace, tensors=None) -> Path:
    root = workspace.fresh(method.id)
    checkpoint.save(method, tensors or preset_state_dict("tiny"), root, "none")
    return root


def _largest_file(root: Path) -> Path:
    return max((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


TRUNCATED = {  # what the one line says, for the original guide's three kinds of file
    "pytorch": "PytorchStreamReader failed reading zip archive",
    "tensorstore": "Not enough data",
    "t5x": "reading truncated Zlib-compressed stream",
}


@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_a_truncated_file_fails_to_load_with_one_line(method, workspace):
    root = _saved(method, workspace)
    victim = _largest_file(root)  # model.pth, a zarr chunk, a shard, a safetensors or DCP file
    os.truncate(victim, victim.stat().st_size // 2)
    assert TRUNCATED.get(method.id, "") in _load_error(method, root)


@pytest.mark.parametrize("method", ZARR2_FILE, ids=ids(ZARR2_FILE))
def test_a_corrupted_zarray_fails_to_load(method, workspace):
    root = _saved(method, workspace)
    (root / "lm_head.weight" / ".zarray").write_text('{"zarr_format": 2, "shape": [')
    assert 'lm_head.weight/.zarray": Invalid JSON' in _load_error(method, root)


@pytest.mark.parametrize("method", TENSORSTORE_FILE, ids=ids(TENSORSTORE_FILE))
def test_an_all_zero_tensor_keeps_every_chunk_and_a_deleted_one_is_not_read_as_zeros(method, workspace):
    zeros = torch.zeros(130, 70)
    root = _saved(method, workspace, {"zeros": zeros})
    metadata = tensorstore_format.METADATA[method.format.driver]
    chunks = sorted(p for p in (root / "zeros").rglob("*") if p.is_file() and p.name != metadata)
    if method.format.driver == "zarr":  # one file per chunk: every one of them is there although all equal the fill value
        chunk_shape = method.format.chunks.shape_for(zeros.shape, zeros.element_size())
        assert len(chunks) == prod(ceil(d / c) for d, c in zip(zeros.shape, chunk_shape))
    assert checkpoint.mismatches({"zeros": zeros}, checkpoint.load(method, root, CPU)) == []
    chunks[-1].unlink()
    message = _load_error(method, root)
    assert "NOT_FOUND" in message and "is missing" in message


def test_every_tensorstore_read_refuses_to_fill_missing_chunks(tmp_path):
    for method in REGISTRY.values():
        if isinstance(method.format, TensorStore):
            assert method.format.read_spec(tmp_path, "x")["fill_missing_data_reads"] is False


# --- loading stays safe ---------------------------------------------------------------------------------------------


class _Payload:
    """Unpickling this runs code: it creates the file `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("method", [m for m in REGISTRY.values() if isinstance(m.format, TorchFile)], ids=lambda m: m.id)
def test_a_checkpoint_with_a_pickled_object_is_refused(method, tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"weight": torch.ones(2), "payload": _Payload(marker)}, tmp_path / "model.pth")
    assert "torch.load(weights_only=True) refused it: Unsupported global" in _load_error(method, tmp_path)
    assert not marker.exists()


def test_every_torch_load_in_the_suite_is_weights_only():
    calls = [
        (path.name, node)
        for path in sorted((REPO / "bench").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load"
    ]
    assert calls
    for name, call in calls:
        assert any(k.arg == "weights_only" and ast.unparse(k.value) == "True" for k in call.keywords), name
