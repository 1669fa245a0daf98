"""Tied tensors: names of a state dict that hold the very same tensor (e.g. `lm_head.weight` and the embedding).

Two names are aliases only when they are the same view of the same storage: same storage, offset, shape, stride and
dtype. Views that merely overlap (two slices of one buffer, a tensor and its transpose) are different tensors and are
stored separately."""
from __future__ import annotations

import json

import torch


def _view(t: torch.Tensor) -> tuple | None:
    """What makes two tensors one; None for a tensor without storage (empty, meta), which nothing can share."""
    storage = t.untyped_storage().data_ptr()
    if storage == 0:
        return None
    return t.device, storage, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype


def same_view(a: torch.Tensor, b: torch.Tensor) -> bool:
    key = _view(a)
    return key is not None and key == _view(b)


def find_aliases(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """Each alias mapped to the first name, in dict order, that holds the same view."""
    first: dict[tuple, str] = {}
    aliases = {}
    for name, t in tensors.items():
        key = _view(t)
        if key is None:
            continue
        target = first.setdefault(key, name)
        if target != name:
            aliases[name] = target
    return aliases


def split(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors to store, each shared one once under its first name, and the alias map."""
    aliases = find_aliases(tensors)
    return {name: t for name, t in tensors.items() if name not in aliases}, aliases


def unique_bytes(tensors: dict[str, torch.Tensor]) -> int:
    """The logical bytes of a state dict: every tensor's numel x itemsize, each shared tensor counted once."""
    stored, _ = split(tensors)
    return sum(t.numel() * t.element_size() for t in stored.values())


def encode(aliases: dict[str, str]) -> bytes:
    """The alias map as a checkpoint stores it: a JSON object, {"alias": "its target"}."""
    return json.dumps(aliases, indent=1).encode()


def decode(data: bytes) -> dict[str, str]:
    """The alias map a checkpoint stored; ValueError, saying what is wrong, for a damaged one."""
    try:
        aliases = json.loads(data)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"aliases.json is not valid JSON: {e}") from e
    if not isinstance(aliases, dict) or not all(isinstance(target, str) for target in aliases.values()):
        raise ValueError("aliases.json is not an object mapping each alias to a tensor's name")
    return aliases
