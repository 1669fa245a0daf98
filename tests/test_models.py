"""The presets and local model directories, without any download."""
import pytest
import torch

from bench.checkpoint import mismatches
from bench.models import ModelError, preset_shapes, preset_state_dict, state_dict


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


def test_local_model_directory_loads_without_the_hub(tmp_path, monkeypatch):
    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tensors = preset_state_dict("tiny")
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=172,
                                         num_attention_heads=4, vocab_size=1000))
    model.load_state_dict(tensors)
    model.save_pretrained(tmp_path)
    assert mismatches(tensors, state_dict(str(tmp_path), "float32")) == []


@pytest.mark.parametrize("content", [None, "{not json"], ids=["no-config", "bad-config"])
def test_a_directory_that_is_not_a_model_is_one_clear_error(tmp_path, content):
    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(ModelError, match=f"--ckpt-model {tmp_path}: "):
        state_dict(str(tmp_path))
