"""--ckpt-async's train group: the loop's last checkpoint is its live state, the benchmark run stores every train
benchmark verified, a local model skips them with one line, and the loop's options are checked."""
import pytest
import torch
from safetensors.torch import save_file

from bench import checkpoint, nested
from bench.methods import REGISTRY
from bench.models import preset_state_dict
from bench.options import Options
from bench.training_loop import AsyncSaves, Loop, SyncSaves, Trainer
from runschema import TRAIN, TRAIN_MODES, TRAIN_NONE
from tests.helpers import load_run, run_bench, stored_runs, usage_line

CPU = torch.device("cpu")
LOOP = ("--ckpt-train-steps", "2", "--ckpt-train-every", "1", "--ckpt-train-tokens", "16")  # a short round: 2 saves
SKIPPED = "train: --ckpt-model {} is weight files without a model class to train; the train group needs a preset"


@pytest.mark.parametrize("saves", [SyncSaves, AsyncSaves])
@pytest.mark.parametrize("method_id", ["pytorch", "t5x"])
def test_the_last_checkpoint_of_a_round_is_the_live_state_bit_for_bit(saves, method_id, workspace):
    method, loop = REGISTRY[method_id], Loop(Trainer("tiny", 16, CPU), steps=4, every=2)
    roots = [workspace.fresh(f"step-{s}") for s in loop.checkpoint_steps]
    before = {n: t.clone() for n, t in nested.flatten(loop.trainer.state()["model"])[0].items()}
    writer = saves(method, "fsync")
    try:
        loop.run(writer, roots)
    finally:
        writer.close()
    state = loop.trainer.state()
    assert checkpoint.mismatches(before, state["model"])  # it really trained
    assert checkpoint.mismatches(state, checkpoint.load(method, roots[-1], CPU)) == []
    assert checkpoint.mismatches(state, checkpoint.load(method, roots[0], CPU))  # two steps before the end
    assert [g["param_names"][0] for g in state["optimizer"]["param_groups"]] == ["model.embed_tokens.weight"]


def test_a_step_of_t_tokens_is_sequences_of_at_most_128():
    assert tuple(Trainer("tiny", 512, CPU).batch.shape) == (4, 128)
    assert tuple(Trainer("tiny", 200, CPU).batch.shape) == (2, 100)
    assert tuple(Trainer("tiny", 16, CPU).batch.shape) == (1, 16)


def test_benchmark_run_stores_the_train_group_verified(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-async", "--ckpt-methods", "pytorch,t5x", "-k", "train",
                     "--benchmark-min-rounds=1", *LOOP, storage=tmp_path / "storage", timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    (path,) = stored_runs(tmp_path / "storage")
    stored = {(b["params"]["method"], b["params"]["mode"]): b for b in load_run(path)["benchmarks"]}
    expected = [(TRAIN_NONE, TRAIN_NONE)] + [(m, mode) for m in ("pytorch", "t5x") for mode in TRAIN_MODES]
    assert sorted(stored) == sorted(expected)  # a benchmark whose checkpoint did not round-trip is left out
    model_bytes = sum(t.numel() * t.element_size() for t in preset_state_dict("tiny").values())
    for (method, mode), b in stored.items():
        info = b["extra_info"]
        assert b["group"] == TRAIN and (info["method"], info["mode"]) == (method, mode)
        assert info["train"] == {"steps": 2, "every": 1, "tokens": 16, "batch": 1, "sequence": 16}
        assert (info["model"], info["state"], info["dtype"]) == ("tiny", "adam", "float32")
        assert info["n_tensors"] == 4 * 21  # the model's, and Adam's step, exp_avg and exp_avg_sq per parameter
        assert info["logical_bytes"] == 3 * model_bytes + 21 * 4
        assert info["peak_rss_bytes"] is not None and info["cpu_user_s"] is not None
        assert (info["n_files"] >= 1) == (method != TRAIN_NONE)  # one checkpoint's files; none has none
        assert info["throughput_gbps"] is None  # a round of training is not a pass over the checkpoint's bytes
    assert "Training with checkpoints" not in output  # the end-of-run report needs save and load-cold (-k train)


def test_without_ckpt_async_no_train_benchmark_is_collected(tmp_path):
    listed = run_bench("--ckpt-model", "tiny", "--collect-only", "-q", storage=tmp_path / "storage").stdout
    assert "test_checkpoint.py::test_save[pytorch]" in listed and "test_train" not in listed


def test_a_local_model_skips_every_train_benchmark_with_one_line(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    save_file(preset_state_dict("tiny"), model / "model.safetensors")
    proc = run_bench("--ckpt-model", str(model), "--ckpt-async", "--ckpt-methods", "pytorch", "-k", "train", "-rs",
                     storage=tmp_path / "storage")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    lines = [ln for ln in output.splitlines() if ln.startswith("SKIPPED [")]  # one per test function
    assert len(lines) == 2 and all(SKIPPED.format(model) in ln for ln in lines)
    assert "3 skipped" in output.splitlines()[-1] and " passed" not in output.splitlines()[-1]


class Config:
    """The options pytest would pass: the defaults, and `given`."""

    def __init__(self, **given):
        self._given = {"--ckpt-model": "tiny", "--ckpt-state": "model", "--ckpt-device": "cpu",
                       "--ckpt-durability": "fsync", "--ckpt-order": "interleaved",
                       **{f"--ckpt-train-{k}": v for k, v in given.items()}}

    def getoption(self, name):
        return self._given.get(name)


def test_the_loop_options_default_to_20_steps_of_512_tokens_a_checkpoint_every_5():
    options = Options.from_config(Config())
    assert (options.train_steps, options.train_every, options.train_tokens) == (20, 5, 512)
    options = Options.from_config(Config(every="3"))
    assert (options.train_steps, options.train_every) == (12, 3)


@pytest.mark.parametrize("given, says", [
    ({"every": "0"}, "--ckpt-train-every '0': give a whole number of steps, 1 or more (default: 5)"),
    ({"tokens": "many"}, "--ckpt-train-tokens 'many': give a whole number of tokens, 1 or more (default: 512)"),
    ({"steps": "-4"}, "--ckpt-train-steps '-4': give a whole number of steps, 1 or more (default: 20)"),
    ({"steps": "7"}, "--ckpt-train-steps 7: not a multiple of --ckpt-train-every 5, so the round would not end with "
                     "a checkpoint; give e.g. 20"),
])
def test_a_bad_loop_option_is_one_line(given, says):
    with pytest.raises(ValueError) as bad:
        Options.from_config(Config(**given))
    assert str(bad.value) == says


def test_a_bad_loop_option_stops_the_run_before_any_benchmark(tmp_path):
    line = usage_line(run_bench("--ckpt-model", "tiny", "--ckpt-train-every", "2.5", storage=tmp_path / "storage"))
    assert "--ckpt-train-every '2.5': give a whole number of steps" in line
