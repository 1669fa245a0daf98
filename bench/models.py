"""Models to checkpoint: seeded LLaMA presets (no download), or a local model's own weight files (safetensors or
torch.save pickles, one file, shards with an index, or a directory as transformers and diffusers save it)."""
from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.backends.base import one_line
from bench.backends.torch_file import weights_only_refusal

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
    tie_word_embeddings: bool = False  # lm_head.weight is model.embed_tokens.weight, one tensor under two names


PRESETS = {
    "tiny": Preset(64, 2, 172, 4, 1000, "float32"),
    "tiny-tied": Preset(64, 2, 172, 4, 1000, "float32", tie_word_embeddings=True),
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
        tie_word_embeddings=p.tie_word_embeddings,
    )


def preset_shapes(name: str) -> list[tuple[str, torch.Size]]:
    """The preset's tensor names and shapes, from a meta-device model: nothing is allocated."""
    from transformers import LlamaForCausalLM

    p = PRESETS[name]
    with torch.device("meta"):
        shapes = [(n, t.shape) for n, t in LlamaForCausalLM(_llama_config(p)).state_dict().items()]
    return shapes[: p.max_tensors]


def preset_state_dict(name: str, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The preset's tensors, materialised one at a time, each from its own seeded generator; a tied head is the
    embedding tensor itself."""
    p = PRESETS[name]
    dtype = dtype or DTYPES[p.dtype]
    std = _llama_config(p).initializer_range
    tied = {"lm_head.weight": "model.embed_tokens.weight"} if p.tie_word_embeddings else {}
    out = {}
    for index, (tensor_name, shape) in enumerate(preset_shapes(name)):
        if tensor_name in tied:
            out[tensor_name] = out[tied[tensor_name]]
            continue
        if tensor_name.endswith("norm.weight"):  # LLaMA initialises RMSNorm weights to one
            t = torch.ones(shape)
        else:
            t = torch.empty(shape).normal_(0.0, std, generator=torch.Generator().manual_seed(SEED + index))
        out[tensor_name] = t.to(dtype)
    return out


# What a directory is searched for, in this order: a model's safetensors before its pickles, as transformers does
WEIGHT_NAMES = (
    "model.safetensors", "model.safetensors.index.json",
    "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
    "pytorch_model.bin", "pytorch_model.bin.index.json",
    "diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json",
)
INDEX = ".index.json"
KINDS = {".safetensors": "safetensors", ".bin": "pytorch", ".pt": "pytorch", ".pth": "pytorch"}


@dataclass(frozen=True)
class Weights:
    """A local model's tensors as its files hold them (memory-mapped, in the files' order), and what was read."""

    kind: str  # "safetensors" or "pytorch" (torch.save's pickle)
    files: tuple[Path, ...]
    tensors: dict[str, torch.Tensor]

    def describe(self) -> str:
        names = ", ".join(f.name for f in self.files)
        what = f"{self.kind}, {_count(self.files, 'file')}"
        return f"{self.files[0].parent}: {names} ({what}), {_count(self.tensors, 'tensor')}"


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'s' * (len(items) != 1)}"


def find_weights(path: Path) -> tuple[str, tuple[Path, ...]]:
    """The kind and the files, in order, that --ckpt-model names (a weights file, an index or a directory holding
    either); checked without reading a tensor."""
    if not path.exists():
        raise ModelError(
            f"--ckpt-model {path}: not a preset ({', '.join(PRESETS)}) and no such file or directory; give a preset, "
            f"a local model directory or a weights file ({', '.join(KINDS)})"
        )
    found = path if path.is_file() else next((path / n for n in WEIGHT_NAMES if (path / n).is_file()), None)
    if found is None:
        raise ModelError(
            f"--ckpt-model {path}: no weight files in it (looked for {', '.join(WEIGHT_NAMES)}); "
            f"give the directory a model was saved to, or a weights file"
        )
    return _kind(path, found), _shards(path, found) if found.name.endswith(INDEX) else (found,)


def _kind(path: Path, file: Path) -> str:
    suffix = Path(file.name.removesuffix(INDEX)).suffix
    if suffix not in KINDS:
        raise ModelError(
            f"--ckpt-model {path}: unknown weights file extension {suffix!r}; give a {', '.join(KINDS)} file "
            f"or a model directory"
        )
    return KINDS[suffix]


def _shards(path: Path, index: Path) -> tuple[Path, ...]:
    """The shard files an index's weight_map names, in their names' order (model-00001-of-00002 first)."""
    try:
        weight_map = json.loads(index.read_bytes()).get("weight_map")
    except (ValueError, AttributeError) as e:  # ValueError: not UTF-8 or not JSON; AttributeError: JSON, not an object
        raise ModelError(
            f"--ckpt-model {path}: {index.name} is not a JSON object ({one_line(e)}); re-save or re-download the model"
        ) from None
    if not isinstance(weight_map, dict) or not weight_map or not all(isinstance(f, str) for f in weight_map.values()):
        raise ModelError(
            f"--ckpt-model {path}: {index.name} has no weight_map (tensor name to shard file); "
            f"re-save or re-download the model"
        )
    shards = tuple(index.parent / name for name in sorted(set(weight_map.values())))
    missing = [f.name for f in shards if not f.is_file()]
    if missing:
        raise ModelError(
            f"--ckpt-model {path}: {index.name} names {', '.join(missing)}, not in {index.parent}; "
            f"download the missing shards or re-save the model"
        )
    return shards


def read_weights(path: Path) -> Weights:
    """Every tensor of the files --ckpt-model names, memory-mapped: nothing is read until it is used."""
    kind, files = find_weights(path)
    read = _read_safetensors if kind == "safetensors" else _read_pickle
    tensors = {}
    for file in files:
        tensors.update(read(path, file))
    if not tensors:
        raise ModelError(f"--ckpt-model {path}: its weight files hold no tensors; give a model's saved weights")
    return Weights(kind, files, tensors)


def _read_safetensors(path: Path, file: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(file, framework="pt") as f:
            return {name: f.get_tensor(name) for name in f.offset_keys()}  # offset_keys: the order of the bytes
    except (SafetensorError, OSError) as e:
        raise _unreadable(path, file, "safetensors", one_line(e)) from None


def _read_pickle(path: Path, file: Path) -> dict[str, torch.Tensor]:
    try:  # torch maps only its zip format into memory; an older pickle is read whole
        obj = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
    except pickle.UnpicklingError as e:
        reason = weights_only_refusal(e) or one_line(e)
        raise ModelError(
            f"--ckpt-model {path}: {file.name} is refused by torch.load(weights_only=True) ({reason}): it holds "
            f"objects other than tensors, or is not a torch.save file; save the model's state_dict() with torch.save"
        ) from None
    except Exception as e:  # torch's readers raise RuntimeError, KeyError or EOFError on a damaged file
        raise _unreadable(path, file, "torch.save", one_line(e).split(". ")[0]) from None
    return _tensor_mapping(path, file, obj)


def _unreadable(path: Path, file: Path, kind: str, reason: str) -> ModelError:
    return ModelError(
        f"--ckpt-model {path}: {file.name} cannot be read as a {kind} file ({reason}); it is truncated, damaged or "
        f"not a weights file: re-save or re-download it"
    )


def _tensor_mapping(path: Path, file: Path, obj) -> dict[str, torch.Tensor]:
    """A pickle's contents, if they are what a state_dict() is: names to tensors."""
    if not isinstance(obj, dict):
        wrong = f"a {type(obj).__name__}"
    else:
        wrong = next((f"{k!r}: {type(v).__name__}" for k, v in obj.items()
                      if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if wrong is not None:
        raise ModelError(
            f"--ckpt-model {path}: {file.name} holds {wrong}, not a mapping of names to tensors; "
            f"save the model's state_dict() with torch.save"
        )
    return dict(obj)


def local_state_dict(path: Path, dtype: torch.dtype | None = None, device="cpu") -> dict[str, torch.Tensor]:
    """A local model's own tensors, read into memory (or onto the device) and cast; no model class is built."""
    return _convert(read_weights(path).tensors, dtype, device, copy=True)


def _convert(tensors: dict[str, torch.Tensor], dtype: torch.dtype | None, device="cpu",
             copy: bool = False) -> dict[str, torch.Tensor]:
    """The tensors on `device`, floating-point ones cast to `dtype` (integers and bools kept). Each storage is
    converted once and every name keeps its view of it, so names that share a storage (tied weights) still do."""
    storages, views, out = {}, {}, {}
    for name, t in tensors.items():
        storage = t.untyped_storage()
        # an empty tensor has no storage to share: its data_ptr may be every other empty tensor's
        key = (storage.data_ptr(), storage.nbytes(), t.dtype) if storage.nbytes() else (id(t),)
        if key not in storages:
            whole = torch.empty(0, dtype=t.dtype, device=t.device).set_(storage)
            target = dtype if dtype is not None and t.is_floating_point() else t.dtype
            storages[key] = whole.to(device=device, dtype=target, copy=copy)
        view = (key, t.shape, t.stride(), t.storage_offset())
        if view not in views:
            views[view] = storages[key].as_strided(t.shape, t.stride(), t.storage_offset())
        out[name] = views[view]
    return out


def describe(model: str) -> str:
    """What --ckpt-model names, in one line; a preset is not built, a local model's files are only mapped."""
    return f"preset {model}" if model in PRESETS else read_weights(Path(model)).describe()


def state_dict(model: str, dtype: str | None = None, device="cpu") -> dict[str, torch.Tensor]:
    """--ckpt-model's tensors in --ckpt-dtype (floating-point ones only) on `device`, in memory."""
    torch_dtype = DTYPES[dtype] if dtype else None
    if model in PRESETS:
        return _convert(preset_state_dict(model, torch_dtype), None, device)
    return local_state_dict(Path(model), torch_dtype, device)
