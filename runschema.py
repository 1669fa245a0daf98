"""The contract between the benchmarks (bench/, which write runs) and the reports (plotting/, which read them).

What a stored run holds: the group names, the ceiling's operations and which method group each one bounds, the record
each benchmark stores in pytest-benchmark's `extra_info`, the sweep's axes, the schema version, and every value that
is derived from stored numbers (throughput, efficiency, improvement, CPU use, training overhead), each computed here
and only here. Plain Python on purpose: the reports import it without torch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

# 1: runs stored before records carried a version (params.method was not a plain string, free space in machine_info).
# 2: params.method is the method id, extra_info carries schema_version and the CPU time of the rounds.
# 3: extra_info carries the checkpoint's state (model, adam), ranks (world_size, nnodes, saved_world_size, rank_bytes)
#    and anonymous and file-backed memory peaks.
# 4: extra_info carries the disk's requests per round (disk_reads, disk_read_bytes, disk_writes, disk_write_bytes).
# 5: extra_info carries the order the rounds ran in (order), each timed round's position in the run (rounds_at) and
#    the run's id (run), so that rounds that ran side by side can be paired from the stored run alone.
SCHEMA_VERSION = 5
# A run's timings mean the same thing as another's when their versions share a generation; a version that changes
# what a timer covers (or the ceiling) starts a new generation, and the reports refuse to compare across it.
GENERATION = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}

SAVE, LOAD_COLD, LOAD_WARM = "save", "load-cold", "load-warm"
GROUPS = (SAVE, LOAD_COLD, LOAD_WARM)
LOAD_RESHARDED = "load-resharded"  # ranks: a cold load by a world size other than the one that saved
ASYNC_STALL = "async-stall"  # --ckpt-async: from the call until the caller may modify its tensors again
ASYNC_DURABLE = "async-durable"  # --ckpt-async: from the call until the checkpoint is on stable storage
ASYNC_GROUPS = (ASYNC_STALL, ASYNC_DURABLE)
TRAIN = "train"  # --ckpt-async: rounds of training steps, checkpointed every K steps or (method none) not at all
TRAIN_NONE = "none"  # the train benchmark without checkpoints: its `method` and its `mode`
TRAIN_SYNC, TRAIN_ASYNC = "sync", "async"  # the `mode` of the other train benchmarks: checkpoint.save, or save_async
TRAIN_MODES = (TRAIN_SYNC, TRAIN_ASYNC)
REPORTED_ONLY = (*ASYNC_GROUPS, TRAIN)  # --ckpt-async's groups: in the reports, never gated
CEILING = "ceiling"  # a group, and the `method` param of its benchmarks
WRITE, READ_COLD, READ_WARM = "write", "read-cold", "read-warm"
CEILING_OPS = {SAVE: WRITE, LOAD_COLD: READ_COLD, LOAD_WARM: READ_WARM}  # method group -> the ceiling op bounding it
SWEEP_SAVE, SWEEP_LOAD_COLD = "sweep-save", "sweep-load-cold"
SWEEP_GROUPS = (SWEEP_SAVE, SWEEP_LOAD_COLD)
SWEEP_AXES = ("chunk_target", "in_flight", "codec")  # the sweep's params besides `method`, each a plain string
BASELINE = "tensorstore"  # the original guide's baseline: improvements are relative to it
WORKLOAD = ("model", "state", "dtype", "device", "durability")  # benchmarks that differ here measured different things
DEFAULT_STATE = "model"  # what runs stored before the state was recorded measured
INTERLEAVED, BLOCKED = "interleaved", "blocked"  # --ckpt-order: rounds of a group's methods alternate, or run back to back
ORDERS = (INTERLEAVED, BLOCKED)
NAMED = ("state", "durability")  # workload values shown with their key ("durability fsync"); the others speak for themselves


def workload(get) -> dict:
    """The WORKLOAD values that `get(key)` finds; the default state is left out, so that it matches older runs."""
    return {k: v for k in WORKLOAD if (v := get(k)) is not None and not (k == "state" and v == DEFAULT_STATE)}


def size_label(n: int, sep: str = "") -> str:
    """A chunk target as the sweep names it: 64KiB, 4MiB."""
    return f"{n >> 20}{sep}MiB" if n >= 2**20 else f"{n >> 10}{sep}KiB"


def flight_label(in_flight: int | None) -> str:
    """Tensors in flight as the sweep names them: seq (one at a time), a number, or all."""
    return "seq" if in_flight == 1 else "all" if in_flight is None else str(in_flight)


class RecordError(ValueError):
    """A stored record that cannot be read; the message names the field and what is wrong with it."""


@dataclass(frozen=True)
class Record:
    """What one benchmark stores in `extra_info`. Every field may be absent from a run made by hand or by an older
    version (None here); one of the wrong type is an error."""

    method: str | None = None  # the method id, "ceiling" for the disk ceiling
    op: str | None = None  # the ceiling's operation (write, read-cold, read-warm)
    streams: int | None = None  # the ceiling: files written or read at once, each its share of the bytes
    label: str | None = None
    config: dict | None = None  # the method's configuration, as its format describes it
    model: str | None = None
    state: str = DEFAULT_STATE  # what the checkpoint holds: the model's tensors, or with "adam" also Adam's state
    dtype: str | None = None
    device: str | None = None
    durability: str | None = None
    n_tensors: int | None = None
    logical_bytes: int | None = None  # sum of numel * itemsize: what every method writes
    n_files: int | None = None
    apparent_bytes: int | None = None  # sum of st_size
    disk_bytes: int | None = None  # sum of st_blocks * 512: allocated blocks
    peak_rss_bytes: int | None = None  # above the level before, in one untimed round
    peak_anon_bytes: int | None = None  # anonymous memory (heap, buffers): what the kernel cannot drop
    peak_file_bytes: int | None = None  # file-backed resident pages (page cache mapped in): the kernel may drop them
    peak_cuda_bytes: int | None = None
    cpu_user_s: float | None = None  # median over the timed rounds of the process's user CPU seconds
    cpu_system_s: float | None = None
    # medians over the timed rounds of the requests the disk under test completed: the whole system's (/proc/diskstats),
    # at several ranks rank 0's host's
    disk_reads: int | None = None
    disk_read_bytes: int | None = None
    disk_writes: int | None = None
    disk_write_bytes: int | None = None
    throughput_gbps: float | None = None
    efficiency: float | None = None  # ceiling median / this median
    world_size: int | None = None  # ranks that did the operation; absent: one process, no process group
    nnodes: int | None = None
    saved_world_size: int | None = None  # loads: ranks that wrote the checkpoint
    rank_bytes: dict | None = None  # rank (a string) -> bytes it wrote or read
    mode: str | None = None  # train: none (no checkpoints), sync or async (TRAIN_MODES)
    train: dict | None = None  # train: the loop (steps per round, checkpoint every, tokens per step, batch, sequence)
    order: str | None = None  # ORDERS: how this benchmark's rounds were scheduled among the other methods'
    rounds_at: list | None = None  # each timed round's position among all timed rounds of the run, as stats.data
    run: str | None = None  # the run's id: positions compare only within one run (merged files restart at 0)
    schema_version: int = 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Record:
        """A record from stored JSON; unknown keys are kept out (a newer version may add some)."""
        if not isinstance(data, dict):
            raise RecordError("extra_info is not a JSON object")
        values = {}
        for f in fields(cls):
            value = data.get(f.name)
            if value is not None and not _matches(value, f.type):
                raise RecordError(f"extra_info.{f.name} is {value!r}, not {f.type.split(' |')[0]}")
            if value is not None:
                values[f.name] = value
        return cls(**values)

    @property
    def generation(self) -> int | None:
        return GENERATION.get(self.schema_version)

    @property
    def workload(self) -> dict:
        return workload(lambda k: getattr(self, k))

    def pairs_with(self, other: Record) -> bool:
        """Whether this benchmark's rounds and `other`'s ran side by side, one run, interleaved (paired)."""
        return (self.run is not None and self.run == other.run and self.order == other.order == INTERLEAVED
                and paired(self.rounds_at, other.rounds_at))


_TYPES = {"str": str, "int": int, "float": (int, float), "dict": dict, "list": list}


def _matches(value, annotation: str) -> bool:
    expected = _TYPES[annotation.split(" |")[0]]
    if isinstance(value, bool):
        return False
    return isinstance(value, expected) and (not isinstance(value, float) or math.isfinite(value))


def check_version(version: int, where: str) -> None:
    if version not in GENERATION:
        raise RecordError(
            f"{where}: schema_version {version} is newer than this ckpt-bench reads (up to {SCHEMA_VERSION}); "
            f"update ckpt-bench to report it"
        )


def paired(a: list | None, b: list | None) -> bool:
    """Whether two benchmarks' rounds ran side by side, so that their k-th rounds pair (`rounds_at` of each): the
    same number of rounds, and each k-th pair ran before either benchmark's next round. Blocked rounds, and runs
    stored before positions were (None), do not pair."""
    if not a or not b or len(a) != len(b):
        return False
    pairs = sorted(zip(a, b), key=min)
    return all(max(p) < min(q) for p, q in zip(pairs, pairs[1:]))


# --- derived values: computed here once, by the benchmarks when they store and by the reports when they read ---


def throughput_gbps(logical_bytes: int | None, seconds: float | None) -> float | None:
    """Logical bytes per second of median time, in GB/s (10^9 bytes)."""
    return logical_bytes / seconds / 1e9 if logical_bytes and seconds else None


def efficiency(ceiling_seconds: float | None, seconds: float | None) -> float | None:
    """Ceiling median / method median: 1.0 is as fast as the disk's ceiling (the faster of one stream and one per
    core) for the same bytes."""
    return ceiling_seconds / seconds if ceiling_seconds and seconds else None


def improvement(baseline: float | None, value: float | None) -> float | None:
    """(baseline - value) / baseline in %: positive means less time (or bytes) than the baseline."""
    if baseline is None or value is None:
        return None
    return (baseline - value) / baseline * 100


def train_overhead(without: float | None, value: float | None) -> float | None:
    """(value / without - 1) in %: how much longer a round of training steps took with its checkpoints than without."""
    if without is None or value is None:
        return None
    return (value / without - 1) * 100


def cpu_seconds(record: Record) -> float | None:
    """User plus system CPU time of one round (median), every thread of the process counted."""
    if record.cpu_user_s is None or record.cpu_system_s is None:
        return None
    return record.cpu_user_s + record.cpu_system_s


def cores_busy(record: Record, seconds: float | None) -> float | None:
    """CPU time / wall time of a round: about 1 per core kept busy; well under 1 means waiting on the disk."""
    cpu = cpu_seconds(record)
    return cpu / seconds if cpu is not None and seconds else None


def request_bytes(requests: int | None, moved: int | None) -> float | None:
    """The mean size of a disk request: few large ones are what a disk, a virtual one above all, serves fastest."""
    return moved / requests if requests and moved is not None else None


def add_efficiency(benchmarks: list[dict]) -> None:
    """Store `efficiency` in every method benchmark of a run that also measured the matching ceiling operation,
    against the fastest of its stream counts (the disk's limit)."""
    ceiling: dict = {}
    for b in (b for b in benchmarks if b["group"] == CEILING):
        op = b["extra_info"].get("op")
        ceiling[op] = min(ceiling.get(op, math.inf), b["stats"]["median"])
    for b in benchmarks:
        op = CEILING_OPS.get(b["group"])
        if op in ceiling:
            b["extra_info"]["efficiency"] = efficiency(ceiling[op], b["stats"]["median"])


@dataclass(frozen=True)
class SweepAxes:
    """One point of the TensorStore sweep: stored as the benchmark's params, one plain string per axis."""

    target_bytes: int  # the chunk target of T5X's rule
    in_flight: int | None  # tensors issued at once; None: all of them
    codec: str | None

    @property
    def method_id(self) -> str:
        return "-".join(self.params().values())

    def params(self) -> dict[str, str]:
        labels = (size_label(self.target_bytes), flight_label(self.in_flight), self.codec or "raw")
        return dict(zip(SWEEP_AXES, labels))

    @classmethod
    def from_params(cls, params: dict) -> SweepAxes:
        target, flight, codec = (params.get(axis) for axis in SWEEP_AXES)
        units = {"KiB": 2**10, "MiB": 2**20}
        size = next((int(target[: -len(u)]) * f for u, f in units.items()
                     if isinstance(target, str) and target.endswith(u) and target[: -len(u)].isdigit()), None)
        if size is None:
            raise RecordError(f"params.chunk_target is {target!r}, not a size such as 64KiB or 4MiB")
        if not (isinstance(flight, str) and (flight in ("seq", "all") or flight.isdigit())):
            raise RecordError(f"params.in_flight is {flight!r}, not seq, all or a number")
        if not isinstance(codec, str) or not codec:
            raise RecordError(f"params.codec is {codec!r}, not a codec name or raw")
        return cls(size, 1 if flight == "seq" else None if flight == "all" else int(flight),
                   None if codec == "raw" else codec)
