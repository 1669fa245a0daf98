"""Nested checkpoint state (e.g. {"model": ..., "optimizer": Adam.state_dict()}) as every format stores it: the
tensors under flat dotted names, as DCP names them ("optimizer.state.0.exp_avg"), and the rest of the structure (dict
keys of any type, lists, tuples, Python scalars) in a JSON skeleton that the suite writes beside the format's files.

A flat mapping of names to tensors (a model's state_dict) has no skeleton: it is stored as it is."""
from __future__ import annotations

import json

import torch

SKELETON = "state.json"  # the skeleton's file in a checkpoint, only for nested state
_SCALARS = (type(None), bool, int, float, str)


def is_flat(state) -> bool:
    return isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def flatten(state) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The tensors under dotted names, and the skeleton (None for a flat state dict)."""
    if is_flat(state):
        return state, None
    tensors: dict[str, torch.Tensor] = {}
    return tensors, _node(state, "", tensors)


def _node(value, path: str, tensors: dict) -> dict:
    if isinstance(value, torch.Tensor):
        if path in tensors:
            raise ValueError(f"two tensors of the state would both be named {path!r}; rename a key")
        tensors[path] = value
        return {"tensor": path}
    if isinstance(value, dict):
        return {"dict": [[k, _node(v, _join(path, k), tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_node(v, _join(path, i), tensors) for i, v in enumerate(value)]}
    if isinstance(value, _SCALARS):
        return {"value": value}
    raise TypeError(f"{path or 'the state'}: a {type(value).__name__}, which a checkpoint of tensors and plain values cannot hold")


def _join(path: str, key) -> str:
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise TypeError(f"{path or 'the state'}: key {key!r} is neither a string nor an integer")
    return f"{path}.{key}" if path else str(key)


def unflatten(tensors: dict[str, torch.Tensor], skeleton: dict | None):
    """The state that flatten() took apart; ValueError when the skeleton names a tensor the checkpoint lacks."""
    return tensors if skeleton is None else _build(skeleton, tensors)


def _build(node, tensors: dict):
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"{SKELETON}: {node!r} is not a node of a checkpoint's skeleton")
    (kind, content), = node.items()
    if kind == "tensor":
        if content not in tensors:
            raise ValueError(f"{SKELETON} names the tensor {content!r}, which the checkpoint does not hold")
        return tensors[content]
    if kind == "dict":
        return {key: _build(child, tensors) for key, child in content}
    if kind in ("list", "tuple"):
        items = [_build(child, tensors) for child in content]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return content
    raise ValueError(f"{SKELETON}: unknown node kind {kind!r}")


def encode(skeleton: dict) -> bytes:
    return json.dumps(skeleton).encode()


def decode(data: bytes) -> dict:
    """A stored skeleton; ValueError, saying what is wrong, for a damaged one."""
    try:
        skeleton = json.loads(data)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{SKELETON} is not valid JSON: {e}") from e
    if not isinstance(skeleton, dict):
        raise ValueError(f"{SKELETON} is not a JSON object")
    return skeleton
