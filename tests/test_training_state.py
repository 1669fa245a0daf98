"""--ckpt-state adam: nested training state (Adam's state_dict layout, master weights) through every method, bitwise."""
import pytest
import torch

from bench import checkpoint, nested
from bench.aliases import find_aliases
from bench.checkpoint import CheckpointError
from bench.methods import REGISTRY
from bench.models import preset_state_dict
from bench.training_state import STEP, adam_state, training_state
from tests.helpers import load_run, run_bench, stored_runs

CPU = torch.device("cpu")


def tiny_tied(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The tied preset, with an integer buffer beside the floats (it has no optimizer state)."""
    model = preset_state_dict("tiny-tied", dtype)
    model["model.position_ids"] = torch.arange(16)
    return model


def reference_adam(model: dict[str, torch.Tensor], with_master: bool) -> torch.optim.Adam:
    """An optimizer built the way training builds it, to check adam_state's layout against."""
    names = [n for n, t in model.items() if t.is_floating_point() and n not in find_aliases(model)]
    params = [(n, model[n].float() if with_master else model[n]) for n in names]
    return torch.optim.Adam(params)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_adam_state_has_the_layout_of_adam_state_dict(dtype):
    model = tiny_tied(dtype)
    state = adam_state(model)
    sixteen = dtype != torch.float32
    assert set(state) == ({"model", "optimizer", "master_weights"} if sixteen else {"model", "optimizer"})
    assert state["model"] is model
    reference = reference_adam(model, sixteen)
    optimizer = state["optimizer"]
    assert optimizer["param_groups"] == reference.state_dict()["param_groups"]
    names = optimizer["param_groups"][0]["param_names"]
    assert "lm_head.weight" not in names and "model.position_ids" not in names  # tied: one parameter; ints: none
    for index, name in enumerate(names):
        entry = optimizer["state"][index]
        shape = model[name].shape
        assert entry["step"].item() == STEP and entry["step"].dtype == torch.float32
        assert entry["exp_avg"].shape == shape and entry["exp_avg"].dtype == torch.float32
        assert (entry["exp_avg_sq"] >= 0).all()
        if sixteen:
            assert torch.equal(state["master_weights"][name], model[name].float())
    reference.load_state_dict(optimizer)  # what a training job does with it on restart
    assert torch.equal(reference.state_dict()["state"][0]["exp_avg"], optimizer["state"][0]["exp_avg"])


def test_adam_state_is_seeded():
    a, b = adam_state(tiny_tied(torch.float16)), adam_state(tiny_tied(torch.float16))
    assert checkpoint.mismatches(a, b) == []
    assert training_state("model", a["model"]) is a["model"]


@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_every_method_round_trips_adam_state(method, workspace):
    state = adam_state(tiny_tied(torch.bfloat16))
    root = workspace.fresh(method.id)
    checkpoint.save(method, state, root, "none")
    loaded = checkpoint.load(method, root, CPU)
    assert checkpoint.mismatches(state, loaded) == []
    names = loaded["optimizer"]["param_groups"][0]["param_names"]
    assert loaded["model"]["lm_head.weight"] is loaded["model"]["model.embed_tokens.weight"]
    assert isinstance(loaded["optimizer"]["param_groups"][0]["betas"], tuple)
    assert list(loaded["optimizer"]["state"]) == list(range(len(names)))  # integer keys, as Adam numbers params
    reference = reference_adam(state["model"], with_master=True)
    reference.load_state_dict(loaded["optimizer"])
    assert names == reference.state_dict()["param_groups"][0]["param_names"]


def test_mismatches_sees_a_changed_plain_value_and_a_changed_moment():
    state = adam_state(preset_state_dict("tiny"))
    changed = {**state, "optimizer": {**state["optimizer"], "param_groups": [{**state["optimizer"]["param_groups"][0], "lr": 0.5}]}}
    assert checkpoint.mismatches(state, changed) == [nested.SKELETON]
    moments = dict(state["optimizer"]["state"])
    moments[3] = {**moments[3], "exp_avg": moments[3]["exp_avg"] + 1}
    flipped = {**state, "optimizer": {**state["optimizer"], "state": moments}}
    assert checkpoint.mismatches(state, flipped) == ["optimizer.state.3.exp_avg"]


def test_flatten_keeps_key_types_tuples_and_scalars():
    state = {"a": {0: torch.ones(2), "1": [torch.zeros(1), (1.5, None, True)]}, "b": "text"}
    tensors, skeleton = nested.flatten(state)
    assert list(tensors) == ["a.0", "a.1.0"]
    back = nested.unflatten(tensors, nested.decode(nested.encode(skeleton)))
    assert list(back["a"]) == [0, "1"] and back["a"]["1"][1] == (1.5, None, True) and back["b"] == "text"
    flat = {"x": torch.ones(1)}
    assert nested.flatten(flat)[0] is flat and nested.flatten(flat)[1] is None  # a state dict is stored as it is


@pytest.mark.parametrize("state, wrong", [
    ({"a.b": torch.ones(1), "a": {"b": torch.ones(1)}}, "both be named 'a.b'"),
    ({"a": object()}, "a: a object"),
    ({"a": {(1, 2): torch.ones(1)}}, "is neither a string nor an integer"),
])
def test_flatten_refuses_what_a_checkpoint_cannot_hold(state, wrong):
    with pytest.raises((ValueError, TypeError), match=wrong):
        nested.flatten(state)


@pytest.mark.parametrize("damage, reason", [
    (b"{not json", "state.json is not valid JSON"),
    (b'{"tensor": "missing"}', "names the tensor 'missing'"),
    (b'{"set": []}', "unknown node kind 'set'"),
])
def test_a_damaged_skeleton_is_one_line(damage, reason, workspace):
    method = REGISTRY["pytorch"]
    root = workspace.fresh(method.id)
    checkpoint.save(method, adam_state(preset_state_dict("tiny")), root, "none")
    (root / nested.SKELETON).write_bytes(damage)
    with pytest.raises(CheckpointError, match=f"pytorch: cannot load the checkpoint at .*{reason}"):
        checkpoint.load(method, root, CPU)


def test_a_run_with_adam_state_stores_it(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-state", "adam", "--ckpt-dtype", "float16",
                     "--ckpt-methods", "safetensors,t5x", "--benchmark-min-rounds=1", "--benchmark-autosave",
                     "-k", "not load_warm", storage=tmp_path / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ckpt-bench state: adam" in proc.stdout
    (path,) = stored_runs(tmp_path / "storage")
    infos = [b["extra_info"] for b in load_run(path)["benchmarks"] if b["group"] != "ceiling"]
    model = preset_state_dict("tiny", torch.float16)
    expected = nested.flatten(adam_state(model))[0]
    assert infos and all(i["state"] == "adam" for i in infos)
    assert len(expected) == 5 * len(model)  # model, master, step and two moments per tensor
    assert {i["logical_bytes"] for i in infos} == {sum(t.numel() * t.element_size() for t in expected.values())}
    assert {i["n_tensors"] for i in infos} == {len(expected)}


def test_a_wrong_state_is_one_usage_line(tmp_path):
    proc = run_bench("--ckpt-model", "tiny", "--ckpt-state", "sgd", storage=tmp_path / "storage")
    assert proc.returncode == 4 and "--ckpt-state 'sgd': choose from model, adam" in proc.stderr
