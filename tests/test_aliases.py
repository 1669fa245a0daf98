"""Tied tensors: every method stores a shared tensor once, loads it back shared, and the run counts it once."""
import json

import pytest
import torch

from bench import checkpoint, disk
from bench.aliases import find_aliases, unique_bytes
from bench.ceiling import image
from bench.checkpoint import CheckpointError
from bench.methods import REGISTRY
from bench.models import preset_state_dict
from tests.helpers import bytes_held, load_run, run_bench, stored_runs

CPU = torch.device("cpu")
EMBED, HEAD = "model.embed_tokens.weight", "lm_head.weight"


def random_bits(shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Incompressible values: a second copy would cost its full size even under gzip or zstd."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-(2**15), 2**15, shape, dtype=torch.int16, generator=g).view(dtype)


def tied_tensors(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """A tiny LLaMA-like state dict whose output head is its embedding (tie_word_embeddings)."""
    embed = random_bits((500, 64), dtype, 0)
    return {
        EMBED: embed,
        "model.layers.0.mlp.up_proj.weight": random_bits((172, 64), dtype, 1),
        "model.norm.weight": torch.ones(64, dtype=dtype),
        HEAD: embed,
    }


def untied(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t for name, t in tensors.items() if name != HEAD}


def saved(method, tensors, workspace, durability="none"):
    root = workspace.fresh(method.id)
    checkpoint.save(method, tensors, root, durability)
    return root


@pytest.mark.parametrize("durability", checkpoint.DURABILITY)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_every_method_round_trips_a_tied_pair_as_one_tensor(method, dtype, durability, workspace):
    tensors = tied_tensors(dtype)
    loaded = checkpoint.load(method, saved(method, tensors, workspace, durability), CPU)
    assert checkpoint.mismatches(tensors, loaded) == []
    assert loaded[HEAD] is loaded[EMBED]


@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_every_method_writes_the_shared_tensor_once(method, workspace):
    tensors = tied_tensors(torch.float16)
    tied_root, untied_root = saved(method, tensors, workspace), saved(method, untied(tensors), workspace)
    extra = disk.usage(tied_root).apparent_bytes - disk.usage(untied_root).apparent_bytes
    assert abs(extra) < tensors[EMBED].nbytes  # the alias map, give or take a few bytes of the format's metadata
    assert json.loads((tied_root / checkpoint.ALIASES).read_text()) == {HEAD: EMBED}
    assert not (untied_root / checkpoint.ALIASES).exists()
    block = disk.block_bytes(tied_root)
    assert bytes_held(tied_root) <= disk.checkpoint_bound(method, tensors, block)
    # the estimate adds one block for the alias map, nothing for the shared tensor
    assert disk.checkpoint_bound(method, tensors, block) - disk.checkpoint_bound(method, untied(tensors), block) == block


def test_mismatches_sees_an_alias_loaded_as_an_independent_copy():
    tensors = tied_tensors(torch.float16)
    assert checkpoint.mismatches(tensors, {**tensors, HEAD: tensors[EMBED].clone()}) == [HEAD]
    assert checkpoint.mismatches(tensors, {**tensors, HEAD: tensors[EMBED].view(500, 64)}) == []  # the same view
    assert checkpoint.mismatches(untied(tensors), untied(tensors)) == []


@pytest.mark.parametrize("content, reason", [
    ('{"lm_head.weight": ', "aliases.json is not valid JSON: Expecting value"),
    ('["lm_head.weight"]', "aliases.json is not an object mapping each alias to a tensor's name"),
    ('{"lm_head.weight": 3}', "aliases.json is not an object mapping each alias to a tensor's name"),
    ('{"lm_head.weight": "model.embed.weight"}',
     "aliases.json: 'lm_head.weight' is an alias of 'model.embed.weight', which the checkpoint does not hold"),
], ids=["truncated", "a-list", "a-number", "missing-target"])
@pytest.mark.parametrize("method_id", ["pytorch", "ocdbt"])
def test_a_damaged_alias_map_fails_to_load_with_one_line(method_id, content, reason, workspace):
    method = REGISTRY[method_id]
    root = saved(method, tied_tensors(torch.float16), workspace)
    (root / checkpoint.ALIASES).write_text(content)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(method, root, CPU)
    message = str(e.value)
    assert message.startswith(f"{method.id}: cannot load the checkpoint at {root} (ValueError: {reason}")
    assert message.endswith(")") and "\n" not in message


def test_only_the_same_view_of_the_same_storage_is_an_alias():
    buf = random_bits((2, 300), torch.float16, 2)
    tensors = {
        "whole": buf, "transposed": buf.t(), "row": buf[0], "flat": buf.view(-1), "as-int": buf.view(torch.int16),
        "same": buf.view(2, 300),  # another tensor object, the same view: an alias
        "empty": torch.empty(0), "also-empty": torch.empty(0),  # no storage to share
    }
    assert find_aliases(tensors) == {"same": "whole"}


@pytest.mark.parametrize("method", REGISTRY.values(), ids=list(REGISTRY))
def test_two_slices_of_one_buffer_are_two_tensors(method, workspace):
    buf = random_bits((2, 300), torch.float16, 2)
    tensors = {"first": buf[0], "second": buf[1]}
    root = saved(method, tensors, workspace)
    assert not (root / checkpoint.ALIASES).exists()
    assert checkpoint.mismatches(tensors, checkpoint.load(method, root, CPU)) == []


def test_logical_bytes_count_a_shared_tensor_once():
    tensors = tied_tensors(torch.bfloat16)
    expected = sum(t.nbytes for t in untied(tensors).values())
    assert unique_bytes(tensors) == unique_bytes(untied(tensors)) == expected
    assert image(tensors).nbytes == expected
    assert (image(tensors) == image(untied(tensors))).all()


@pytest.fixture(scope="module")
def tied_run(tmp_path_factory):
    """A whole run on the tiny preset whose output head is its embedding."""
    tmp = tmp_path_factory.mktemp("tied")
    (tmp / "ckpt").mkdir()
    proc = run_bench("--ckpt-model", "tiny-tied", "--ckpt-dir", str(tmp / "ckpt"), "--ckpt-device", "cpu",
                     "--ckpt-methods", "safetensors,pytorch,ts+chunks", "--ckpt-durability", "none",
                     "--benchmark-min-rounds=1", storage=tmp / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = stored_runs(tmp / "storage")
    return load_run(path)["benchmarks"]


def test_a_run_on_a_tied_model_verifies_every_method_and_counts_the_tie_once(tied_run):
    tensors = preset_state_dict("tiny-tied")
    assert find_aliases(tensors) == {HEAD: EMBED}
    untied_bytes = sum(t.nbytes for t in preset_state_dict("tiny").values()) - tensors[EMBED].nbytes
    stored = {(b["group"], b["params"].get("op") or b["params"]["method"]) for b in tied_run}
    methods = {"safetensors", "pytorch", "ts+chunks"}
    assert stored == {(g, m) for g in ("save", "load-cold", "load-warm") for m in methods} | {
        ("ceiling", op) for op in ("write", "read-cold", "read-warm")}  # every round trip verified, the tie included
    for b in tied_run:
        assert b["extra_info"]["n_tensors"] == len(tensors)
        assert b["extra_info"]["logical_bytes"] == unique_bytes(tensors) == untied_bytes
    (write,) = [b for b in tied_run if b["params"].get("op") == "write" and b["params"]["streams"] == "1"]
    assert write["extra_info"]["apparent_bytes"] == unique_bytes(tensors)
