"""The train group's loop (README: Asynchronous saves): real training steps of a preset's LLaMA in float32 with Adam,
checkpointed every K steps the way a job does it: synchronously (save), or asynchronously (save_async, one save in
flight at a time). What a checkpoint holds is what an fp32 job writes: the model's state dict and Adam's state_dict."""
from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import torch

from bench import checkpoint
from bench.async_save import Pending, Staging
from bench.models import PRESETS, _llama_config

SEQUENCE = 128  # the longest sequence: a step of T tokens is ceil(T / SEQUENCE) sequences of equal length
SEED = 0  # the weights' initialisation and the token ids


class Trainer:
    """A preset's LlamaForCausalLM in float32 on `device`, its Adam optimizer and one seeded batch of token ids."""

    def __init__(self, preset: str, tokens: int, device: torch.device):
        from transformers import LlamaForCausalLM

        config = _llama_config(PRESETS[preset])
        with torch.random.fork_rng(devices=[]):  # seeded weights, the session's own generator left as it was
            torch.manual_seed(SEED)
            self.model = LlamaForCausalLM(config)
        self.model.to(device=device, dtype=torch.float32).train()
        self.optimizer = torch.optim.Adam(self.model.named_parameters())  # names in param_groups, as --ckpt-state adam
        batch = math.ceil(tokens / SEQUENCE)
        shape = (batch, math.ceil(tokens / batch))  # T tokens, rounded up to a whole number of each sequence's
        generator = torch.Generator().manual_seed(SEED)
        self.batch = torch.randint(config.vocab_size, shape, generator=generator).to(device)
        self.device = device

    def step(self) -> None:
        """Forward, backward and Adam's update: next-token loss on the batch."""
        self.model(input_ids=self.batch, labels=self.batch).loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state(self) -> dict:
        """The checkpoint of this moment: the live tensors themselves, not copies."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # a CUDA step returns before it has run


class SyncSaves:
    """checkpoint.save every K steps: training waits until each checkpoint is written."""

    def __init__(self, method, durability: str):
        self._method, self._durability = method, durability

    def save(self, state, root: Path) -> None:
        checkpoint.save(self._method, state, root, self._durability)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class AsyncSaves:
    """checkpoint.save_async every K steps: training waits for the stall, and for the previous save if it is still
    writing when the next one is due (a job keeps one in flight); the host buffers are kept from save to save."""

    def __init__(self, method, durability: str):
        self._method, self._durability = method, durability
        self._staging = Staging()
        self._pending: Pending | None = None

    def save(self, state, root: Path) -> None:
        self.finish()
        self._pending = checkpoint.save_async(self._method, state, root, self._durability, self._staging)

    def finish(self) -> None:
        """Wait until the last save is durable; its background error is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.wait()

    def close(self) -> None:
        """Whatever happened: no save still writes, the buffers go."""
        if self._pending is not None:
            self._pending.settle()
            self._pending = None
        self._staging.close()


class Loop:
    """One round: `steps` training steps, a checkpoint after every `every`-th into its own directory (the last one
    after the last step), and the round ends when the last checkpoint is durable."""

    def __init__(self, trainer: Trainer, steps: int, every: int):
        self.trainer, self.steps, self.every = trainer, steps, every

    @property
    def checkpoint_steps(self) -> range:
        return range(self.every, self.steps + 1, self.every)

    def run(self, saves=None, roots: Iterable[Path] = ()) -> None:
        """Timed: the steps, and with `saves` (SyncSaves, AsyncSaves) a checkpoint into each of `roots` in turn."""
        roots = iter(roots)
        for step in range(1, self.steps + 1):
            self.trainer.step()
            if saves is not None and step % self.every == 0:
                saves.save(self.trainer.state(), next(roots))
        if saves is not None:
            saves.finish()
        self.trainer.synchronize()

    def describe(self) -> dict:
        """What the stored record says about the loop (runschema.Record.train)."""
        batch, sequence = self.trainer.batch.shape
        return {"steps": self.steps, "every": self.every, "tokens": batch * sequence, "batch": batch,
                "sequence": sequence}
