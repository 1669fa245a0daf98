"""The train group, only with --ckpt-async (README: Asynchronous saves): what checkpoints cost a training job. A round
is --ckpt-train-steps real training steps of the preset's LLaMA in float32 with Adam, timed as a whole: without
checkpoints (method none, once per run), and per method with a checkpoint every --ckpt-train-every steps, saved
synchronously (mode sync) or asynchronously (mode async). The last checkpoint comes after the last step, so after the
timed rounds it must hold the live model and optimizer state bit for bit."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bench import checkpoint, disk, nested
from bench.models import PRESETS
from bench.operations import require_async_save
from bench.plugin import state_info
from bench.record import method_identity, record, require_round_trip
from bench.handover import measure
from bench.training_loop import AsyncSaves, Loop, SyncSaves, Trainer
from runschema import TRAIN, TRAIN_ASYNC, TRAIN_MODES, TRAIN_NONE, TRAIN_SYNC, Record

pytestmark = pytest.mark.async_save
TRAINED = "adam"  # what the checkpoint holds, in --ckpt-state's terms: the model and Adam's state (no master weights)
SAVES = {TRAIN_SYNC: SyncSaves, TRAIN_ASYNC: AsyncSaves}


@pytest.fixture(scope="module")
def loop(options, world) -> Loop:
    """The model and its optimizer, built once outside every timer; they train on from round to round."""
    if world is not None:
        pytest.skip("train: the training loop runs in one process; measure it with pytest alone (without torchrun)")
    if options.model not in PRESETS:
        pytest.skip(f"train: --ckpt-model {options.model} is weight files without a model class to train; the train "
                    f"group needs a preset ({', '.join(PRESETS)})")
    trainer = Trainer(options.model, options.train_tokens, options.device)
    return Loop(trainer, options.train_steps, options.train_every)


@pytest.mark.benchmark(group=TRAIN)
@pytest.mark.parametrize("method, mode", [(TRAIN_NONE, TRAIN_NONE)])
def test_train_without_checkpoints(benchmark, method, mode, loop, options, rounds):
    measured = measure(benchmark, loop.run, tuple, rounds, options.device, warmup=True,  # Adam's state comes at step 1
                       disk_path=options.ckpt_dir)
    identity = Record(method=TRAIN_NONE, label="no checkpoints", mode=mode, train=loop.describe())
    # a round is training steps, not one pass over the checkpoint's bytes: no throughput
    record(benchmark, identity, trained_info(loop, options), disk.Usage(0, 0, 0), measured, throughput=False)


@pytest.mark.benchmark(group=TRAIN)
@pytest.mark.parametrize("mode", TRAIN_MODES)
def test_train(benchmark, method, mode, slot, loop, options, rounds, async_group):
    if mode == TRAIN_ASYNC:
        require_async_save(method)
    saves = SAVES[mode](method, options.durability)

    def setup():  # untimed: the previous round's checkpoints go, an empty directory per checkpoint of this one
        root = slot.replace()
        roots = [root / f"step-{step}" for step in loop.checkpoint_steps]
        for r in roots:
            r.mkdir()
        disk.syncfs(root)  # the first save's fsync must not commit these directories inside the timer
        return saves, roots

    try:
        measured = measure(benchmark, loop.run, setup, rounds, options.device, warmup=True,  # and staging buffers
                           disk_path=options.ckpt_dir)
        last = slot.root / f"step-{loop.steps}"
        loaded = checkpoint.load(method, last, options.device)
        require_round_trip(method, loop.trainer.state(), loaded, benchmark=benchmark)
    except BaseException:
        saves.close()  # no save still writes into what is deleted next
        slot.discard()  # a failed save's partial checkpoint must not be loaded as if it were whole
        raise
    saves.close()
    identity = replace(method_identity(method), mode=mode, train=loop.describe())
    record(benchmark, identity, trained_info(loop, options), disk.usage(last), measured, throughput=False)


def trained_info(loop: Loop, options) -> dict:
    """The stored record's model fields, of the training checkpoint rather than the run's state: after a step, once
    Adam has its state."""
    return state_info(options, TRAINED, nested.flatten(loop.trainer.state())[0])
