"""The presets, and local models read from their own weight files, without any download."""
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from bench.backends.tensorstore import TensorStore
from bench.backends.torch_file import TorchFile
from bench.checkpoint import mismatches
from bench.chunks import FixedChunks
from bench.models import ModelError, describe, preset_shapes, preset_state_dict, read_weights, state_dict
from tests.helpers import load_run, run_bench, stored_runs, usage_line

HEAD, EMBED = "lm_head.weight", "model.embed_tokens.weight"


def nbytes(shapes, itemsize):
    return sum(s.numel() for _, s in shapes) * itemsize


def test_tiny_is_small_deterministic_and_float32():
    a, b = preset_state_dict("tiny"), preset_state_dict("tiny")
    assert len(a) == 21 and mismatches(a, b) == []
    assert {t.dtype for t in a.values()} == {torch.float32}
    assert sum(t.numel() * t.element_size() for t in a.values()) < 1_000_000
    assert state_dict("tiny", "bfloat16")["lm_head.weight"].dtype == torch.bfloat16


def test_small_has_all_75_tensors_and_337_mb_in_float16():
    shapes = preset_shapes("small")
    assert len(shapes) == 75
    assert nbytes(shapes, 2) == 336_627_712
    assert dict(shapes)["model.embed_tokens.weight"] == (32000, 1024)


def test_openllama_3b_is_the_first_100_tensors_and_2_73_gib():
    shapes = preset_shapes("openllama-3b")
    assert len(shapes) == 100
    assert shapes[0][0] == "model.embed_tokens.weight" and shapes[-1][0] == "model.layers.10.post_attention_layernorm.weight"
    assert round(nbytes(shapes, 2) / 2**30, 2) == 2.73


@pytest.mark.parametrize("dtype", [None, "bfloat16"])
def test_tiny_tied_has_one_tensor_for_the_head_and_the_embedding(dtype):
    tied, tiny = state_dict("tiny-tied", dtype), state_dict("tiny", dtype)
    assert list(tied) == list(tiny)
    assert tied[HEAD] is tied[EMBED]
    assert mismatches({n: t for n, t in tiny.items() if n != HEAD}, {n: t for n, t in tied.items() if n != HEAD}) == []
    assert describe("tiny-tied") == "preset tiny-tied"


# --- local models: the files' own tensors ----------------------------------------------------------------------------


def mixed_tensors() -> dict[str, torch.Tensor]:
    """What real checkpoints hold besides float weights: integer buffers, a bool mask, two float dtypes."""
    g = torch.Generator().manual_seed(0)
    return {
        "encoder.weight": torch.randn(8, 6, generator=g),
        "encoder.position_ids": torch.arange(8).unsqueeze(0),
        "encoder.step": torch.tensor(7, dtype=torch.int32),
        "encoder.mask": torch.rand(4, 4, generator=g) > 0.5,
        "head.weight": torch.randn(6, 3, generator=g).half(),
    }


def file_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors, in the order of its bytes, as the safetensors library reads them."""
    with safe_open(path, framework="pt") as f:
        return {name: f.get_tensor(name) for name in f.offset_keys()}


def test_integer_tensors_keep_their_dtype_and_names_shapes_dtypes_are_the_files(tmp_path):
    save_file(mixed_tensors(), tmp_path / "model.safetensors")
    expected = file_tensors(tmp_path / "model.safetensors")
    as_saved = state_dict(str(tmp_path))
    assert list(as_saved) == list(expected) and mismatches(expected, as_saved) == []
    cast = state_dict(str(tmp_path), "bfloat16")
    assert list(cast) == list(expected)
    for name, t in expected.items():
        want = t.to(torch.bfloat16) if t.is_floating_point() else t
        assert cast[name].dtype == want.dtype and torch.equal(cast[name], want), name
    assert {t.dtype for t in cast.values()} == {torch.bfloat16, torch.int64, torch.int32, torch.bool}


def tiny_bert():
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bert")
    tiny_bert().save_pretrained(path)
    return path


def test_an_encoder_is_read_as_its_file_holds_it_with_no_lm_head(bert_dir):
    expected = file_tensors(bert_dir / "model.safetensors")
    tensors = state_dict(str(bert_dir))
    assert list(tensors) == list(expected) and mismatches(expected, tensors) == []
    assert not any("lm_head" in n or n.startswith("cls.") for n in tensors)
    assert describe(str(bert_dir)) == f"{bert_dir}: model.safetensors (safetensors, 1 file), {len(expected)} tensors"


def test_a_decoder_saved_by_transformers_reads_back_bit_for_bit(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    tensors = preset_state_dict("tiny")
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=172,
                                         num_attention_heads=4, vocab_size=1000))
    model.load_state_dict(tensors)
    model.save_pretrained(tmp_path)
    assert mismatches(tensors, state_dict(str(tmp_path), "float32")) == []


def saved(save):
    """A writer of mixed_tensors() with `save`: safetensors' save_file or torch.save."""
    return lambda path: save(mixed_tensors(), path)


def dir_with(name: str, write):
    """A directory holding one file, written by `write`; the directory is what --ckpt-model is given."""
    def make(root: Path) -> Path:
        write(root / name)
        return root
    return make


def file_of(name: str, write):
    """One file, written by `write`, given to --ckpt-model itself."""
    def make(root: Path) -> Path:
        write(root / name)
        return root / name
    return make


def sharded(index: str, save):
    """Two shards named as transformers names them (model-00001-of-00002.safetensors, ...) and their index."""
    def make(root: Path) -> Path:
        stem, ext = index.removesuffix(".index.json").rsplit(".", 1)
        tensors = mixed_tensors()
        names = list(tensors)
        weight_map = {}
        for i, part in enumerate([names[:2], names[2:]]):
            shard = f"{stem}-0000{i + 1}-of-00002.{ext}"
            save({n: tensors[n] for n in part}, root / shard)
            weight_map.update(dict.fromkeys(part, shard))
        (root / index).write_text(json.dumps({"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}))
        return root
    return make


def both_formats(root: Path) -> Path:
    """Safetensors and a pickle of other tensors side by side."""
    torch.save({"decoy": torch.zeros(3)}, root / "pytorch_model.bin")
    save_file(mixed_tensors(), root / "model.safetensors")
    return root


def shards(stem: str, ext: str) -> list[str]:
    return [f"{stem}-00001-of-00002.{ext}", f"{stem}-00002-of-00002.{ext}"]


LAYOUTS = {  # what --ckpt-model is given: (how it is made, the kind read, the files read)
    "model.safetensors": (dir_with("model.safetensors", saved(save_file)), "safetensors", ["model.safetensors"]),
    "pytorch_model.bin": (dir_with("pytorch_model.bin", saved(torch.save)), "pytorch", ["pytorch_model.bin"]),
    "diffusers-safetensors": (dir_with("diffusion_pytorch_model.safetensors", saved(save_file)), "safetensors",
                              ["diffusion_pytorch_model.safetensors"]),
    "diffusers-bin": (dir_with("diffusion_pytorch_model.bin", saved(torch.save)), "pytorch",
                      ["diffusion_pytorch_model.bin"]),
    "sharded-safetensors": (sharded("model.safetensors.index.json", save_file), "safetensors",
                            shards("model", "safetensors")),
    "sharded-bin": (sharded("pytorch_model.bin.index.json", torch.save), "pytorch", shards("pytorch_model", "bin")),
    "sharded-diffusers": (sharded("diffusion_pytorch_model.safetensors.index.json", save_file), "safetensors",
                          shards("diffusion_pytorch_model", "safetensors")),
    "both-formats-safetensors-wins": (both_formats, "safetensors", ["model.safetensors"]),
    "file.safetensors": (file_of("weights.safetensors", saved(save_file)), "safetensors", ["weights.safetensors"]),
    "file.pth": (file_of("weights.pth", saved(torch.save)), "pytorch", ["weights.pth"]),
    "file.pt": (file_of("weights.pt", saved(torch.save)), "pytorch", ["weights.pt"]),
    "file.bin": (file_of("weights.bin", saved(torch.save)), "pytorch", ["weights.bin"]),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_reads_the_files_tensors_and_says_which_files(layout, tmp_path):
    make, kind, files = LAYOUTS[layout]
    path = make(tmp_path)
    weights = read_weights(path)
    assert (weights.kind, [f.name for f in weights.files]) == (kind, files)
    tensors = state_dict(str(path))
    assert mismatches(mixed_tensors(), tensors) == []
    if kind == "pytorch":  # a pickle keeps the saved order; safetensors keep their bytes' order (tested above)
        assert list(tensors) == list(mixed_tensors())
    count = f"{len(files)} file{'s' * (len(files) > 1)}"
    assert describe(str(path)) == f"{tmp_path}: {', '.join(files)} ({kind}, {count}), {len(tensors)} tensors"


def test_a_sharded_encoder_saved_by_transformers_is_read_whole(tmp_path):
    tiny_bert().save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1
    expected = {n: t for shard in shards for n, t in file_tensors(shard).items()}
    tensors = state_dict(str(tmp_path))
    assert list(tensors) == list(expected) and mismatches(expected, tensors) == []


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


@pytest.mark.parametrize("dtype", [None, "float16"])
def test_names_that_share_a_storage_in_a_pickle_still_share_it_after_reading_and_a_cast(dtype, tmp_path):
    embedding = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    torch.save({"embed.weight": embedding, "head.weight": embedding, "first_row": embedding[0],
                "other": embedding.clone(), "empty": torch.empty(0), "also_empty": torch.empty(0)},
               tmp_path / "pytorch_model.bin")
    tensors = state_dict(str(tmp_path), dtype)
    assert tensors["head.weight"] is tensors["embed.weight"]
    assert shares_storage(tensors["first_row"], tensors["embed.weight"])
    assert tensors["first_row"].storage_offset() == 0 and tensors["first_row"].shape == (4,)
    assert not shares_storage(tensors["other"], tensors["embed.weight"])
    assert tensors["empty"] is not tensors["also_empty"]  # nothing else is merged
    expected = embedding.to(getattr(torch, dtype or "float32"))
    assert torch.equal(tensors["embed.weight"], expected) and torch.equal(tensors["other"], expected)


# --- what is not a model: one line each ------------------------------------------------------------------------------


class NotATensor:
    """What a pickled training checkpoint may hold besides tensors."""


def halved(write):
    """`write`, then the file cut in half: a download or a copy that stopped."""
    def write_halved(path: Path) -> None:
        write(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return write_halved


def index_of(content: str, *shard_names: str):
    """A directory with model.safetensors.index.json holding `content`, beside the shards named."""
    def make(root: Path) -> Path:
        for shard in shard_names:
            save_file({"a": torch.ones(2)}, root / shard)
        (root / "model.safetensors.index.json").write_text(content)
        return root
    return make


MISSING_SHARD = json.dumps({"weight_map": dict(zip("ab", shards("model", "safetensors")))})
BAD = {  # (how it is made, what the line says)
    "missing": (lambda root: root / "nowhere",
                "not a preset (tiny, tiny-tied, small, openllama-3b) and no such file or directory"),
    "no-weights": (dir_with("config.json", lambda p: p.write_text("{}")),
                   "no weight files in it (looked for model.safetensors, model.safetensors.index.json, "),
    "index-not-json": (index_of("{not json"), "model.safetensors.index.json is not a JSON object (JSONDecodeError: "),
    "index-no-weight-map": (index_of('{"metadata": {}}'), "model.safetensors.index.json has no weight_map"),
    "index-missing-shard": (index_of(MISSING_SHARD, shards("model", "safetensors")[0]),
                            "model.safetensors.index.json names model-00002-of-00002.safetensors, not in "),
    "truncated-safetensors": (dir_with("model.safetensors", halved(saved(save_file))),
                              "model.safetensors cannot be read as a safetensors file (SafetensorError: "),
    "truncated-bin": (dir_with("pytorch_model.bin", halved(saved(torch.save))),
                      "pytorch_model.bin cannot be read as a torch.save file ("),
    "text-as-safetensors": (dir_with("model.safetensors", lambda p: p.write_text("not weights, just text")),
                            "model.safetensors cannot be read as a safetensors file (SafetensorError: "),
    "pickle-of-an-object": (file_of("model.pth", lambda p: torch.save({"w": torch.ones(1), "x": NotATensor()}, p)),
                            "model.pth is refused by torch.load(weights_only=True) (Unsupported global: "),
    "pickle-of-a-list": (file_of("model.pt", lambda p: torch.save([torch.ones(1)], p)),
                         "model.pt holds a list, not a mapping of names to tensors"),
    "no-tensors": (dir_with("model.safetensors", lambda p: save_file({}, p)), "its weight files hold no tensors"),
    "unknown-extension": (file_of("model.ckpt", lambda p: p.write_text("x")), "unknown weights file extension '.ckpt'"),
}


@pytest.mark.parametrize("case", BAD)
def test_what_is_not_a_model_is_one_line_naming_the_path_the_problem_and_the_fix(case, tmp_path):
    make, expected = BAD[case]
    path = make(tmp_path)
    with pytest.raises(ModelError) as info:
        state_dict(str(path))
    message = str(info.value)
    assert message.startswith(f"--ckpt-model {path}: ") and expected in message, message
    assert "\n" not in message and ";" in message  # the fix follows the problem


# --- a real run ------------------------------------------------------------------------------------------------------


def test_a_real_run_on_an_encoder_benchmarks_the_files_own_tensors(bert_dir, tmp_path):
    n = len(file_tensors(bert_dir / "model.safetensors"))
    (tmp_path / "ckpt").mkdir()
    proc = run_bench("--ckpt-model", str(bert_dir), "--ckpt-methods", "pytorch,safetensors,t5x", "--ckpt-device", "cpu",
                     "--ckpt-dir", str(tmp_path / "ckpt"), "--ckpt-durability", "none", "--benchmark-min-rounds=1",
                     storage=tmp_path / "storage")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"ckpt-bench model: {bert_dir}: model.safetensors (safetensors, 1 file), {n} tensors\n" in proc.stdout
    (run,) = stored_runs(tmp_path / "storage")
    records = [b["extra_info"] for b in load_run(run)["benchmarks"]]
    assert records and {(r["model"], r["n_tensors"]) for r in records} == {(str(bert_dir), n)}


def test_a_model_with_a_dtype_a_method_cannot_store_stops_before_any_benchmark(tmp_path):
    save_file({"w": torch.ones(4, 4), "scale": torch.ones(4).to(torch.float8_e4m3fn)}, tmp_path / "model.safetensors")
    assert not TensorStore(chunks=FixedChunks(64)).stores(torch.float8_e4m3fn) and TorchFile().stores(torch.float8_e4m3fn)
    (tmp_path / "ckpt").mkdir()
    proc = run_bench("--ckpt-model", str(tmp_path / "model.safetensors"), "--ckpt-methods", "pytorch,ts+chunks",
                     "--ckpt-dir", str(tmp_path / "ckpt"), storage=tmp_path / "storage")
    assert "--ckpt-methods ts+chunks: its format cannot store float8_e4m3fn tensors" in usage_line(proc)
    assert list((tmp_path / "ckpt").iterdir()) == []
    cast = run_bench("--ckpt-model", str(tmp_path / "model.safetensors"), "--ckpt-methods", "pytorch,ts+chunks",
                     "--ckpt-dtype", "float16", "--ckpt-dir", str(tmp_path / "ckpt"), "--benchmark-min-rounds=1",
                     "-k", "save or load_cold", storage=tmp_path / "storage")
    assert cast.returncode == 0, cast.stdout[-3000:] + cast.stderr[-3000:]
