"""The suite's command-line options (README: Options), parsed and checked once per session."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from bench import disk, ranks, schedule
from bench import methods as registry
from bench.checkpoint import DURABILITY
from bench.models import DTYPES, KINDS, PRESETS, find_weights
from bench.training_loop import SEQUENCE
from bench.training_state import STATES
from runschema import BLOCKED, INTERLEAVED, ORDERS

TRAIN_EVERY = 5  # a checkpoint every 5 steps: 4 in a round of the default 20 steps
TRAIN_TOKENS = 512  # 4 sequences of 128 tokens: a step of `tiny` takes about 30 ms on 2 cores

DEVICES = ("auto", "cpu", "cuda")


def add_options(parser) -> None:
    group = parser.getgroup("ckpt-bench", "checkpoint benchmark")
    group.addoption("--ckpt-model", default="small", help=f"preset ({', '.join(PRESETS)}), a local model directory or a weights file ({', '.join(KINDS)}): its own tensors, as saved (default: small)")
    group.addoption("--ckpt-dtype", default=None, help=f"{', '.join(DTYPES)}: casts the floating-point tensors (default: as the preset or the files have them)")
    group.addoption("--ckpt-state", default="model", help="model (the model's tensors) or adam (a training checkpoint: also Adam's fp32 moments and step, and fp32 master weights of a 16-bit model) (default: model)")
    group.addoption("--ckpt-device", default="auto", help="auto (CUDA when available), cpu or cuda (default: auto)")
    group.addoption("--ckpt-methods", default=None, help=f"comma-separated method ids, or 'all'; ids: {', '.join(registry.REGISTRY)} (default: {','.join(registry.DEFAULT_METHODS)})")
    group.addoption("--ckpt-dir", default=None, help="directory on the disk under test; the suite works in a fresh subdirectory of it (default: the system temporary directory)")
    group.addoption("--ckpt-durability", default="fsync", help="fsync (saves end on stable storage) or none (page-cache speed)")
    group.addoption("--ckpt-order", default=INTERLEAVED, help=f"{INTERLEAVED} (the rounds of the methods of each of the groups {', '.join(schedule.GROUPS)} run in turn, cycle by cycle, so that every method meets the same minutes of the machine and rounds pair) or {BLOCKED} (each benchmark's rounds back to back, pytest-benchmark's own order) (default: {INTERLEAVED})")
    group.addoption("--ckpt-sweep", action="store_true", help="also run the TensorStore parameter sweep (bench/test_sweep.py): chunk target x concurrency x codec")
    group.addoption("--ckpt-async", action="store_true", help="also measure asynchronous saves (bench/test_async.py): per method the stall (until the tensors may change again) and the time until durable; and a training loop with checkpoints (bench/test_train.py)")
    group.addoption("--ckpt-train-every", default=None, help=f"--ckpt-async's train group: a checkpoint every K training steps (default: {TRAIN_EVERY})")
    group.addoption("--ckpt-train-tokens", default=None, help=f"--ckpt-async's train group: tokens per training step, in sequences of up to {SEQUENCE} (default: {TRAIN_TOKENS})")
    group.addoption("--ckpt-train-steps", default=None, help="--ckpt-async's train group: training steps per timed round, a multiple of --ckpt-train-every (default: 4 x --ckpt-train-every)")


@dataclass(frozen=True)
class Options:
    model: str
    state: str
    dtype: str | None
    device: torch.device
    methods: tuple
    ckpt_dir: Path
    durability: str
    order: str = INTERLEAVED  # --ckpt-order (bench.schedule)
    warmup: bool = False  # an untimed round before every benchmark's timed ones (warmup below)
    async_save: bool = False  # --ckpt-async
    train_every: int = TRAIN_EVERY  # --ckpt-train-every
    train_tokens: int = TRAIN_TOKENS  # --ckpt-train-tokens
    train_steps: int = 4 * TRAIN_EVERY  # --ckpt-train-steps

    @classmethod
    def from_config(cls, config) -> "Options":
        """Check every option; a bad one raises ValueError with one line that says what to do."""
        get = config.getoption
        model = get("--ckpt-model")
        if model not in PRESETS:
            find_weights(Path(model))  # the files and any index, checked now; their tensors are read later
        dtype = get("--ckpt-dtype")
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"--ckpt-dtype {dtype!r}: choose from {', '.join(DTYPES)}")
        state = get("--ckpt-state")
        if state not in STATES:
            raise ValueError(f"--ckpt-state {state!r}: choose from {', '.join(STATES)}")
        durability = get("--ckpt-durability")
        if durability not in DURABILITY:
            raise ValueError(f"--ckpt-durability {durability!r}: choose from {', '.join(DURABILITY)}")
        order = get("--ckpt-order")
        if order not in ORDERS:
            raise ValueError(f"--ckpt-order {order!r}: choose from {', '.join(ORDERS)}")
        async_save = bool(get("--ckpt-async"))
        every = _count(get, "--ckpt-train-every", "steps", TRAIN_EVERY)
        steps = _count(get, "--ckpt-train-steps", "steps", 4 * every)
        if steps % every:
            raise ValueError(f"--ckpt-train-steps {steps}: not a multiple of --ckpt-train-every {every}, so the round "
                             f"would not end with a checkpoint; give e.g. {4 * every}")
        device = _device(get("--ckpt-device"))
        return cls(
            model=model,
            state=state,
            dtype=dtype,
            device=device,
            methods=tuple(registry.select(get("--ckpt-methods"))),
            ckpt_dir=_ckpt_dir(get("--ckpt-dir")),
            durability=durability,
            order=order,
            warmup=warmup(bool(get("benchmark_warmup")), device),
            async_save=async_save,
            train_every=every,
            train_tokens=_count(get, "--ckpt-train-tokens", "tokens", TRAIN_TOKENS),
            train_steps=steps,
        )


def _count(get, option: str, what: str, default: int) -> int:
    """A whole number of 1 or more, or the default when the option is not given."""
    value = get(option)
    if value is None:
        return default
    if not (value.strip().isdigit() and int(value) > 0):
        raise ValueError(f"{option} {value!r}: give a whole number of {what}, 1 or more (default: {default})")
    return int(value)


def warmup(asked: bool, device: torch.device) -> bool:
    """An untimed round before the timed ones where the first round differs: when asked, on CUDA (context, kernels,
    the pinned host memory torch keeps for the run) and at N ranks (the process group's first collectives, each
    rank's own copies of its pieces, kept for the run)."""
    return asked or device.type == "cuda" or ranks.launched()


def _device(name: str) -> torch.device:
    if name not in DEVICES:
        raise ValueError(f"--ckpt-device {name!r}: choose from {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--ckpt-device cuda: PyTorch sees no CUDA device here; use --ckpt-device cpu (or auto)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _ckpt_dir(value: str | None) -> Path:
    path = Path(value) if value else Path(tempfile.gettempdir())
    if not path.exists():
        raise ValueError(f"--ckpt-dir {path}: does not exist; create it or point to an existing directory")
    if not path.is_dir():
        raise ValueError(f"--ckpt-dir {path}: is a file, not a directory")
    try:
        disk.probe_writable(path)
    except OSError as e:
        raise ValueError(f"--ckpt-dir {path}: cannot create a directory in it ({e.strerror}); choose a writable directory") from None
    return path.resolve()
