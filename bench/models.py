"""Models to checkpoint: seeded LLaMA presets (no download) or a local Hugging Face directory."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
SEED = 0


@dataclass(frozen=True)
class Preset:
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    vocab_size: int
    dtype: str
    max_tensors: int | None = None  # the first N tensors of state_dict() order; None: all


PRESETS = {
    "tiny": Preset(64, 2, 172, 4, 1000, "float32"),
    "small": Preset(1024, 8, 2816, 16, 32000, "float16"),
    "openllama-3b": Preset(3200, 26, 8640, 32, 32000, "float16", max_tensors=100),
}


class ModelError(ValueError):
    """A model option that cannot be honoured; the message says what to do."""


def _llama_config(p: Preset):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=p.hidden_size,
        num_hidden_layers=p.num_hidden_layers,
        intermediate_size=p.intermediate_size,
        num_attention_heads=p.num_attention_heads,
        vocab_size=p.vocab_size,
    )


def preset_shapes(name: str) -> list[tuple[str, torch.Size]]:
    """The preset's tensor names and shapes, from a meta-device model: nothing is allocated."""
    from transformers import LlamaForCausalLM

    p = PRESETS[name]
    with torch.device("meta"):
        shapes = [(n, t.shape) for n, t in LlamaForCausalLM(_llama_config(p)).state_dict().items()]
    return shapes[: p.max_tensors]


def preset_state_dict(name: str, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The preset's tensors, materialised one at a time, each from its own seeded generator."""
    dtype = dtype or DTYPES[PRESETS[name].dtype]
    std = _llama_config(PRESETS[name]).initializer_range
    out = {}
    for index, (tensor_name, shape) in enumerate(preset_shapes(name)):
        if tensor_name.endswith("norm.weight"):  # LLaMA initialises RMSNorm weights to one
            t = torch.ones(shape)
        else:
            t = torch.empty(shape).normal_(0.0, std, generator=torch.Generator().manual_seed(SEED + index))
        out[tensor_name] = t.to(dtype)
    return out


def local_state_dict(path: Path, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """A local Hugging Face model directory's weights; never reaches the hub."""
    from transformers import AutoModelForCausalLM

    check_model_dir(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as e:
        raise ModelError(f"--ckpt-model {path}: cannot load a model from it ({str(e).splitlines()[0]})") from e
    return {n: t.detach() for n, t in model.state_dict().items()}


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(
            f"--ckpt-model {path}: not a preset ({', '.join(PRESETS)}) and not a directory; "
            "give a preset name or a local Hugging Face model directory"
        )
    if not (path / "config.json").is_file():
        raise ModelError(f"--ckpt-model {path}: no config.json in it; give a local Hugging Face model directory")


def state_dict(model: str, dtype: str | None = None) -> dict[str, torch.Tensor]:
    torch_dtype = DTYPES[dtype] if dtype else None
    if model in PRESETS:
        return preset_state_dict(model, torch_dtype)
    return local_state_dict(Path(model), torch_dtype)

