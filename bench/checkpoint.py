"""Save, load and verify a checkpoint with any registered method, in one process or as one rank of several."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from bench import nested, sharding
from bench.aliases import decode, encode, find_aliases, same_view, split
from bench.async_save import Pending, Staging, background
from bench.backends.base import one_line
from bench.disk import fsync_dirs, fsync_path
from bench.ranks import RankError, ranked

DURABILITY = ("fsync", "none")
ALIASES = "aliases.json"  # the alias map (bench.aliases.encode), beside the format's files, only when there are aliases
RANKS = "ranks.json"  # at N ranks: {"world_size": N}, the ranks that wrote the checkpoint


def save(method, state, root: Path, durability: str = "fsync", world=None) -> None:
    """Write `state` (a state dict, or nested state: bench.nested) into the empty directory `root`: the format gets
    the tensors under flat names, each shared tensor once; the alias map and the skeleton of nested state go beside
    them. With a World (bench.ranks), every rank calls this with the same global state and the format writes this
    rank's pieces of it (bench.sharding); rank 0 writes the suite's own files. With fsync, return once it is on
    stable storage."""
    tensors, skeleton = nested.flatten(state)
    stored, aliases = split(tensors)
    if world is None:
        method.format.save(stored, root, durability=durability)
    else:
        method.format.save_rank(_rank_pieces(stored, world), root, durability=durability, world=world)
    if world is None or world.main:
        _finish(root, aliases, skeleton, durability, world)
    elif durability == "fsync":
        fsync_dirs(root)


def save_async(method, state, root: Path, durability: str = "fsync", staging=None, world=None) -> Pending:
    """save() in two parts (README: Asynchronous saves): returns once the caller may modify `state` again (the
    format's stall), with a Pending whose wait() returns once the whole checkpoint is durable, as save() leaves it:
    the format's files, then (only if they succeeded) the alias map and skeleton, then with fsync the directories.
    A failure in the background is raised by wait() as one CheckpointError line, and leaves nothing load() accepts.
    `staging` (bench.async_save.Staging) carries the method's host buffers from one save to the next; None: fresh
    ones, let go when the save ends. With a World, each rank saves its pieces as save() does, and wait() is a
    collective (Agreed): it returns on every rank once every rank's part is durable and rank 0 has written the
    suite's files."""
    tensors, skeleton = nested.flatten(state)
    stored, aliases = split(tensors)
    own = staging is None
    staging = Staging() if own else staging
    try:
        if world is None:
            pending = method.format.save_async(stored, root, durability=durability, staging=staging)
        else:
            pending = method.format.save_rank_async(_rank_pieces(stored, world), root, durability=durability,
                                                    staging=staging, world=world)
    except BaseException as e:
        if own:
            staging.close()
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise _failed(method, root, e, "before it went to the background") from e
    if pending is None:
        at = "" if world is None else " at several ranks"
        raise ValueError(f"{method.id}: its format ({method.format.name}) has no asynchronous save{at}")

    def rest():
        try:
            try:
                pending.wait()
            finally:
                if own:
                    staging.close()
            if world is None:
                _finish(root, aliases, skeleton, durability, None)
            elif not world.main and durability == "fsync":
                fsync_dirs(root)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # DCP's CheckpointException is a BaseException
            raise _failed(method, root, e) from e

    local = background(rest)  # after the format's own background part: one writer thread, first in first out
    if world is None:
        return local

    def last():  # rank 0, once every rank's part is durable
        try:
            method.format.finish_ranks(root, durability=durability, world=world)
            _finish(root, aliases, skeleton, durability, world)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            raise _failed(method, root, e) from e

    return Agreed(local, world, last)


def _failed(method, root: Path, e: BaseException, when: str = "in the background") -> CheckpointError:
    return CheckpointError(f"{method.id}: the asynchronous save to {root} failed {when} ({method.format.error_line(e)})")


class Agreed(Pending):
    """At N ranks, one rank's asynchronous save: wait() is a collective that every rank calls in the same order (from
    its main thread). It waits for this rank's part; the ranks agree that every part is durable (a failure on any
    rank raises bench.ranks.RankError, naming it, on all of them); rank 0 then writes what comes last, and the ranks
    agree again. Its outcome is kept: a second wait() repeats it without a collective."""

    def __init__(self, local: Pending, world, last):
        super().__init__(local.future)
        self._world, self._last, self._outcome = world, last, None

    def wait(self) -> None:
        if self._outcome is None:
            self._outcome = self._agree()
        if isinstance(self._outcome, BaseException):
            raise self._outcome

    def _agree(self):
        try:
            ranked(self._world, super().wait)()
            ranked(self._world, self._last if self._world.main else lambda: None)()
        except RankError as e:  # every rank raises it alike
            return e
        return True


def _rank_pieces(stored: dict[str, torch.Tensor], world) -> dict[str, tuple[sharding.Piece, torch.Tensor]]:
    """Each stored tensor's piece on this rank, and the piece as the rank holds it (in storage of its own)."""
    return {n: (p, p.held(stored[n])) for n, p in sharding.layout(stored, world.size, world.rank).items()}


def held(state, world) -> dict[str, torch.Tensor]:
    """What this rank's save() writes from, flat: what training would change under an asynchronous save."""
    stored, _ = split(nested.flatten(state)[0])
    return {n: t for n, (_, t) in _rank_pieces(stored, world).items()}


def _finish(root: Path, aliases: dict, skeleton, durability: str, world) -> None:
    """What the suite writes beside the format's files (rank 0's part at N ranks), then with fsync the directories."""
    if aliases:
        _write(root / ALIASES, encode(aliases), durability)
    if skeleton is not None:
        _write(root / nested.SKELETON, nested.encode(skeleton), durability)
    if world is not None:
        _write(root / RANKS, json.dumps({"world_size": world.size}).encode(), durability)
    if durability == "fsync":
        fsync_dirs(root)


def _write(path: Path, data: bytes, durability: str) -> None:
    path.write_bytes(data)
    if durability == "fsync":
        fsync_path(path)


class CheckpointError(Exception):
    """A checkpoint that does not load: one line naming the method, the checkpoint and the reason."""


def targets(state, world) -> dict[str, sharding.Piece]:
    """What a rank loads of `state` (its global shapes and dtypes): its piece of every tensor the formats store."""
    stored, _ = split(nested.flatten(state)[0])
    return sharding.layout(stored, world.size, world.rank)


def local_state(state, world):
    """This rank's pieces of `state`, in its structure (aliases still share): what its load must return."""
    tensors, skeleton = nested.flatten(state)
    return nested.unflatten({n: sharding.piece(t.shape, t.dtype, world.size, world.rank).of(t)
                             for n, t in tensors.items()}, skeleton)


def load(method, root: Path, device: torch.device, world=None, pieces: dict | None = None):
    """The state that save() wrote, its tensors on `device`; with a World, this rank's `pieces` (targets()) of it,
    whatever the number of ranks that wrote it."""
    try:
        if world is None:
            tensors = method.format.load(root, device=device)
        else:
            tensors = method.format.load_rank(root, pieces, device=device, world=world,
                                              saved_world_size=saved_world_size(root))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # whatever the format's library raises; DCP's CheckpointException is a BaseException
        raise _unloadable(method, root, method.format.error_line(e)) from e
    try:
        _restore_aliases(tensors, root)
        state = nested.unflatten(tensors, _read_skeleton(root))
    except (OSError, ValueError, TypeError) as e:
        raise _unloadable(method, root, one_line(e)) from e
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return state


def saved_world_size(root: Path) -> int:
    """The ranks that wrote a checkpoint (1 without ranks.json: one process)."""
    path = root / RANKS
    return json.loads(path.read_text())["world_size"] if path.exists() else 1


def _unloadable(method, root: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{method.id}: cannot load the checkpoint at {root} ({reason})")


def _restore_aliases(tensors: dict[str, torch.Tensor], root: Path) -> None:
    """Each alias becomes the very tensor object of its target, as in the dict that was saved."""
    for alias, target in _read_aliases(root).items():
        if target not in tensors:
            raise ValueError(f"{ALIASES}: {alias!r} is an alias of {target!r}, which the checkpoint does not hold")
        tensors[alias] = tensors[target]


def _read_aliases(root: Path) -> dict[str, str]:
    path = root / ALIASES
    return decode(path.read_bytes()) if path.exists() else {}  # no file: no tied tensors


def _read_skeleton(root: Path) -> dict | None:
    path = root / nested.SKELETON
    return nested.decode(path.read_bytes()) if path.exists() else None  # no file: a flat state dict


_SAME_WIDTH_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bits (NaN payloads and signed zeros included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.is_floating_point:
        as_int = _SAME_WIDTH_INT[a.element_size()]
        return torch.equal(a.view(as_int), b.view(as_int))
    return torch.equal(a, b)


def mismatches(expected_state, actual_state) -> list[str]:
    """Names that did not round-trip: missing, extra, different in dtype, shape or bits, or an alias in `expected`
    that is not the same tensor as its target in `actual`; for nested state, also the structure and plain values."""
    expected, skeleton = nested.flatten(expected_state)
    try:
        actual, actual_skeleton = nested.flatten(actual_state)
    except (TypeError, ValueError):
        return [nested.SKELETON]
    if skeleton != actual_skeleton:
        return [nested.SKELETON]
    aliases = find_aliases(expected)
    bad = sorted(set(expected) ^ set(actual))
    bad += [n for n in expected if n in actual and not _round_trips(n, expected, actual, aliases.get(n))]
    return bad


def _round_trips(name: str, expected: dict, actual: dict, target: str | None) -> bool:
    if target is not None and not (target in actual and (actual[name] is actual[target]  # an empty piece: no storage
                                                         or same_view(actual[name], actual[target]))):
        return False
    return bitwise_equal(expected[name], actual[name].to(expected[name].device))
