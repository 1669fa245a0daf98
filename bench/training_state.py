"""What --ckpt-state adds to the model's tensors: a training checkpoint's optimizer state, seeded, no training run.

`adam`: {"model": the model's state dict, "optimizer": torch.optim.Adam(...).state_dict(), "master_weights": fp32
copies of the 16-bit floating-point tensors} — Adam's two fp32 moments and its `step` per parameter, its param_groups
of Python scalars, and (for a model in 16 bits, as mixed-precision training keeps them) the fp32 master weights that
Adam updates. A tied tensor is one parameter; integer tensors are not trained and have no optimizer state."""
from __future__ import annotations

import torch

from bench.aliases import split

DESCRIPTIONS = {
    "model": "the model's tensors",
    "adam": "the model's tensors, Adam's moments and step per parameter, fp32 master weights of 16-bit tensors",
}
STATES = tuple(DESCRIPTIONS)
SEED = 1  # the moments' generators: SEED + parameter index (the model's own tensors use other seeds)
STEP = 1000.0  # Adam's step count in the checkpoint: a job some way into training


def training_state(kind: str, model: dict[str, torch.Tensor]):
    """The state --ckpt-state names, built around the model's own tensors (not copied)."""
    return model if kind == "model" else adam_state(model)


def adam_state(model: dict[str, torch.Tensor]) -> dict:
    unique, _ = split(model)  # a tied tensor is one parameter
    trainable = {name: t for name, t in unique.items() if t.is_floating_point()}
    master = {name: t.float() for name, t in trainable.items() if t.element_size() < 4}
    params = [(name, master.get(name, t)) for name, t in trainable.items()]
    optimizer = torch.optim.Adam(params)  # named parameters: param_groups list their names too
    for index, (_, p) in enumerate(params):
        generator = torch.Generator().manual_seed(SEED + index)
        exp_avg = torch.empty(p.shape, dtype=p.dtype).normal_(0.0, 1e-3, generator=generator)  # as p: fp32 or wider
        exp_avg_sq = torch.empty(p.shape, dtype=p.dtype).normal_(0.0, 1e-3, generator=generator).square_()
        # step stays on the CPU, as Adam keeps it unless capturable or fused
        optimizer.state[p] = {"step": torch.tensor(STEP), "exp_avg": exp_avg.to(p.device),
                              "exp_avg_sq": exp_avg_sq.to(p.device)}
    state = {"model": model, "optimizer": optimizer.state_dict()}
    if master:
        state["master_weights"] = master
    return state

