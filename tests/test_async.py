"""Asynchronous saves (--ckpt-async): every async method round-trips and never tears, a background failure is one line
on wait() and leaves nothing loadable, the benchmark run stores both groups, and the reports show them."""
import errno
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest
import safetensors.torch
import torch
import torch.distributed.checkpoint as dcp
import torch.distributed.checkpoint.state_dict_saver as dcp_saver
from torch.distributed.checkpoint._async_process_executor import _AsyncCheckpointProcess

from bench import async_save, checkpoint, nested
from bench.async_save import Overwrite, Staging, background, process_group
from bench.backends.dcp import Dcp
from bench.backends.tensorstore import TensorStore
from bench.checkpoint import CheckpointError
from bench.methods import REGISTRY, Method
from bench.models import preset_state_dict
from bench.training_state import training_state
from plotting import panels, tables
from plotting.runs import load_runs
from runschema import ASYNC_DURABLE, ASYNC_GROUPS, ASYNC_STALL, SAVE
from tests.conftest import awkward_tensors
from tests.helpers import REPO, bench_process, load_run, run_bench, stored_runs

CPU = torch.device("cpu")
ASYNC = [m for m in REGISTRY.values() if m.format.saves_async]


def test_every_format_of_the_suite_saves_asynchronously():
    assert {"pytorch", "safetensors", "dcp", "dcp-process", "t5x", "ts+tuned"} <= {m.id for m in ASYNC}


@pytest.fixture(scope="module")
def group():
    with process_group() as g:  # DCP's process executor asks the group for its rank; one rank, gloo
        yield g


def nested_tied_state() -> dict:
    """Training state with everything a checkpoint can hold: tied tensors (aliases.json), nested structure
    (state.json), bfloat16 and fp32, an integer tensor, and views that share one storage or are not contiguous."""
    model = preset_state_dict("tiny-tied", torch.bfloat16)
    model["model.position_ids"] = torch.arange(16)
    state = training_state("adam", model)
    state["extra"] = awkward_tensors(torch.float16)
    return state


class HeldBack:
    """Holds a format's background part back until release(), so that the test overwrites the source while the save
    is provably not written yet: the suite's writer thread is kept busy; DCP's upload (its thread, or the thread that
    hands the staged state to its daemon process) waits too. TensorStore's commits run in its own threads, which
    nothing holds: for those the overwrite is merely immediate."""

    def __init__(self, monkeypatch):
        self._gate = threading.Event()
        self._busy = background(self._gate.wait)
        gate = self._gate

        def held(function):
            def wrapper(*args, **kwargs):
                gate.wait()
                return function(*args, **kwargs)
            return wrapper

        monkeypatch.setattr(dcp_saver, "save", held(dcp_saver.save))  # the thread executor imports it per call
        monkeypatch.setattr(_AsyncCheckpointProcess, "save", held(_AsyncCheckpointProcess.save))

    def release(self) -> None:
        self._gate.set()
        self._busy.wait()


@pytest.mark.parametrize("durability", ["fsync", "none"])
@pytest.mark.parametrize("method", ASYNC, ids=[m.id for m in ASYNC])
def test_async_save_round_trips_and_never_tears(method, durability, workspace, group, monkeypatch):
    """Overwrite every bit of the source right after the stall, while the write is held back; the checkpoint still
    holds the state as it was at the call, bit for bit, aliases and structure included."""
    state = nested_tied_state()
    overwrite = Overwrite(state)
    root = workspace.fresh(method.id)
    with async_save.staging() as staging:
        held = HeldBack(monkeypatch)
        try:
            pending = checkpoint.save_async(method, state, root, durability, staging)
            overwrite.apply()  # training's next step, at once
            assert not pending.done()  # the checkpoint is not complete yet: the overwrite really raced it
        finally:
            held.release()
        pending.wait()
    assert checkpoint.mismatches(state, checkpoint.load(method, root, CPU))  # the source did change
    overwrite.undo()
    assert checkpoint.mismatches(state, checkpoint.load(method, root, CPU)) == []
    assert not list(root.rglob(f"*{async_save.TEMP_SUFFIX}"))


def fake(method_id: str) -> Method:
    """A method of tests/fake_methods, without leaving that module's test-only methods in the registry."""
    before = dict(REGISTRY)
    from tests.fake_methods import FAKES

    REGISTRY.clear()
    REGISTRY.update(before)
    return FAKES[method_id]


def test_the_overwrite_catches_a_save_that_does_not_snapshot(workspace, monkeypatch):
    """The check above can fail: a save that reads the tensors after its stall holds the overwritten bits."""
    method, state = fake("no-snapshot"), nested_tied_state()
    overwrite = Overwrite(state)
    root = workspace.fresh(method.id)
    held = HeldBack(monkeypatch)
    try:
        pending = checkpoint.save_async(method, state, root, "none", Staging())
        overwrite.apply()
    finally:
        held.release()
    pending.wait()
    overwrite.undo()
    assert len(checkpoint.mismatches(state, checkpoint.load(method, root, CPU))) == len(nested.flatten(state)[0])


@pytest.mark.parametrize("method_id", ["pytorch", "dcp", "dcp-process", "t5x"])
def test_staging_is_reused_from_one_save_to_the_next(method_id, workspace, group):
    """Three saves with one Staging, the state changing right after each stall: each checkpoint holds the state of
    its own call, and the buffers are allocated once (DCP keeps its stager, whose cached storages are its buffers;
    TensorStore copies into its own)."""
    method, state = REGISTRY[method_id], preset_state_dict("tiny")
    with async_save.staging() as staging:
        for i in range(3):
            root = workspace.fresh(f"{method_id}-{i}")
            expected = {n: t.clone() for n, t in state.items()}
            pending = checkpoint.save_async(method, state, root, "none", staging)
            for t in state.values():
                t.add_(1)
            pending.wait()
            assert checkpoint.mismatches(expected, checkpoint.load(method, root, CPU)) == []
            if i == 0:
                pointers = [b.data_ptr() for b in staging._buffers.values()]
                kept = dict(staging._kept)
        assert [b.data_ptr() for b in staging._buffers.values()] == pointers
        assert staging._kept.keys() == kept.keys() and all(staging._kept[k] is v for k, v in kept.items())
        if isinstance(method.format, Dcp):
            assert len(kept) == 1 and not pointers
        elif isinstance(method.format, TensorStore):
            assert not kept and not pointers
        else:
            assert staging.nbytes == sum(t.numel() * t.element_size() for t in state.values())


def test_a_snapshot_waits_for_the_save_still_writing_from_its_buffers(workspace):
    staging, state = Staging(), {"x": torch.arange(1000.0)}
    gate = threading.Event()
    busy = background(gate.wait)
    done, root = [], workspace.fresh("a")
    try:
        first = checkpoint.save_async(REGISTRY["pytorch"], state, root, "none", staging)
        thread = threading.Thread(target=lambda: done.append(staging.snapshot({"x": -state["x"]})))
        thread.start()
        thread.join(0.2)
        assert not done  # the second snapshot would overwrite the buffers the first save has not written yet
    finally:
        gate.set()
    thread.join()
    busy.wait()
    first.wait()
    assert done and checkpoint.mismatches(state, checkpoint.load(REGISTRY["pytorch"], root, CPU)) == []
    staging.close()


# --- a background write that fails ----------------------------------------------------------------------------------


@pytest.fixture
def async_fails():
    return fake("async-fails")


def _failed_in_background(method, root, state=None) -> str:
    """Start the save (its stall succeeds), wait: one CheckpointError line; then nothing at root loads."""
    state = state or preset_state_dict("tiny-tied")
    pending = checkpoint.save_async(method, state, root, "fsync", Staging())
    with pytest.raises(CheckpointError) as failed:
        pending.wait()
    line = str(failed.value)
    assert "\n" not in line and line.startswith(f"{method.id}: the asynchronous save to {root} failed in the background")
    with pytest.raises(CheckpointError):
        checkpoint.load(method, root, CPU)
    assert not (root / checkpoint.ALIASES).exists()  # the suite's own files come only after the format's succeeded
    with pytest.raises(CheckpointError):  # the error stays: every wait() says it
        pending.wait()
    return line


def test_a_failing_background_write_is_one_line_and_leaves_no_checkpoint(async_fails, workspace):
    root = workspace.fresh("fails")
    line = _failed_in_background(async_fails, root)
    assert "OSError: [Errno 28] No space left on device (test)" in line
    assert list(root.iterdir()) == []  # the half-written temporary file is gone, and model.pth never appeared


def test_a_tmpfs_that_fills_up_mid_write_is_one_line_and_nothing_loads(tmp_path):
    """For real: each async method saves into a tmpfs with room for half its data (tests/full_disk.py, as root of a
    user and mount namespace, so no privilege is needed). The failure comes out of wait() (or, where TensorStore's
    first writes fill the disk before its last arrays are created, out of the stall) as one CheckpointError line
    naming the method, and load() refuses what is left."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here to mount a small tmpfs without privileges")
    ids = [m.id for m in ASYNC]
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-m", "tests.full_disk",
                           str(tmp_path), *ids], capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode and proc.stderr.startswith("unshare:"):
        pytest.skip(f"user namespaces are not available here ({proc.stderr.strip()})")
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [o["method"] for o in outcomes] == ids
    for o in outcomes:
        line = o.get("wait") or o.get("stall")
        assert line and "\n" not in line and line.startswith(f"{o['method']}: the asynchronous save to "), o
        assert o.get("stall") is None or o["method"] in {m.id for m in ASYNC if isinstance(m.format, TensorStore)}, o
        assert "cannot load the checkpoint" in (o["load"] or ""), o


def test_safetensors_disk_full_mid_file(workspace, monkeypatch):
    def half_then_full(tensors, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\1" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", half_then_full)
    root = workspace.fresh("st")
    assert "No space left on device" in _failed_in_background(REGISTRY["safetensors"], root)
    assert list(root.iterdir()) == []


def test_dcp_thread_failure_before_its_metadata(workspace, monkeypatch, group):
    """The data files are written, .metadata is not (DCP writes it last): DCP refuses the directory."""
    def full(self, metadata, results):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dcp.FileSystemWriter, "finish", full)
    root = workspace.fresh("dcp")
    assert "No space left on device" in _failed_in_background(REGISTRY["dcp"], root)
    assert list(root.glob("*.distcp")) and not (root / ".metadata").exists()


def test_dcp_process_failure_surfaces_from_its_daemon(workspace, group):
    """The daemon process cannot make the checkpoint's directory (a file is in its way): its error comes back."""
    root = workspace.fresh("dcp-process")
    root.rmdir()
    root.write_text("not a directory")
    line = _failed_in_background(REGISTRY["dcp-process"], root)
    assert "Exists" in line or "directory" in line


# --- the benchmark run and its reports ------------------------------------------------------------------------------


def test_benchmark_run_stores_stall_and_durable_and_reports_them(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-async", "--ckpt-methods", "pytorch,dcp,t5x",
                     "-k", "not test_train", storage=tmp_path / "storage", timeout=600)  # train: tests/test_train.py
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    (path,) = stored_runs(tmp_path / "storage")
    stored = {(b["group"], b["extra_info"]["method"]): b for b in load_run(path)["benchmarks"]}
    for method in ("pytorch", "dcp", "t5x"):
        for group in (SAVE, *ASYNC_GROUPS):
            info = stored[group, method]["extra_info"]
            assert info["peak_rss_bytes"] is not None and info["cpu_user_s"] is not None
            assert info["n_files"] >= 1  # the last round's checkpoint, complete
    assert "Asynchronous saves" in output  # the end-of-run report

    run = load_runs([path])
    table = tables.async_table(run)
    assert [r[0] for r in table.rows] == ["pytorch", "dcp", "t5x"]
    assert "Asynchronous saves" in tables.report_text(run) and "## Asynchronous saves" in tables.report_markdown(run)
    for method, row in zip(("pytorch", "dcp", "t5x"), table.rows):
        ms = tables.ms_format(run)
        assert row[1:4] == tuple(ms(run.get(g, method).median) for g in (SAVE, ASYNC_STALL, ASYNC_DURABLE))
    (panel,) = [p for p in panels.performance_panels(run) if p.title == panels.ASYNC_TITLE]
    assert panel.categories == tuple(run.label(m) for m in ("pytorch", "dcp", "t5x"))
    assert [s.name for s in panel.series] == [panels.SERIES_NAMES[g] for g in (SAVE, ASYNC_STALL, ASYNC_DURABLE)]


def test_without_the_option_the_run_is_unchanged(tmp_path):
    """The default job: no async benchmark is collected, no process group started, and the reports have no async
    table."""
    import subprocess

    kwargs = bench_process("--ckpt-model", "tiny", "--collect-only", "-q", storage=tmp_path / "storage")
    listed = subprocess.run(**kwargs, capture_output=True, text=True, timeout=300).stdout
    assert "test_checkpoint.py::test_save[pytorch]" in listed and "test_async" not in listed
    kwargs = bench_process("--ckpt-model", "tiny", "--ckpt-async", "--collect-only", "-q", storage=tmp_path / "storage")
    listed = subprocess.run(**kwargs, capture_output=True, text=True, timeout=300).stdout
    assert "test_async.py::test_async_stall[pytorch]" in listed and "test_async.py::test_async_durable[t5x]" in listed

    run = load_runs([sorted((REPO / "tests" / "data").glob("*.json"))[0]])
    assert not any(run.has(g) for g in ASYNC_GROUPS)
    assert tables.async_table(run) is None and "Asynchronous" not in tables.report_text(run)
    assert all(p.title != panels.ASYNC_TITLE for p in panels.performance_panels(run))


@pytest.mark.parametrize("method_id", ["dcp", "dcp-process"])
def test_dcp_names_stay_flat_whatever_their_prefixes(method_id, workspace, group):
    """DCP's async save groups names by their first dotted part (fewer top-level keys, less logging in the stall):
    the checkpoint's names are the flat ones, and a name that is another's prefix keeps the state flat."""
    method = REGISTRY[method_id]
    for state in ({"a": torch.ones(2), "a.b": torch.zeros(3), "c.d.e": torch.arange(4)},
                  {"model.x.weight": torch.ones(2), "model.y": torch.zeros(3), "z": torch.tensor(1.0), ".odd": torch.ones(1)}):
        root = workspace.fresh(method_id)
        checkpoint.save_async(method, state, root, "none").wait()
        assert set(dcp.FileSystemReader(root).read_metadata().state_dict_metadata) == set(state)
        assert checkpoint.mismatches(state, checkpoint.load(method, root, CPU)) == []
