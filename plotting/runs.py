"""Stored runs: read pytest-benchmark JSON, check it against the stored record (runschema), index it by (group,
method)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from runschema import (
    CEILING, GROUPS, LOAD_COLD, REPORTED_ONLY, SAVE, TRAIN, TRAIN_MODES, TRAIN_NONE, WORKLOAD, Record, RecordError,
    check_version, workload,
)

REQUIRED = (SAVE, LOAD_COLD)
IQR = "interquartile range"
SPREADS = (("q1", "q3", IQR), ("min", "max", "min to max"))  # preferred first
RUN_HINT = "run `pytest bench/ --benchmark-only` to store one"


class RunError(Exception):
    """A run that cannot be reported; the message is one line naming the problem and the fix."""


@dataclass(frozen=True)
class Stat:
    """One benchmark: the median and spread of its rounds (seconds) and its extra_info."""

    median: float
    low: float | None = None
    high: float | None = None
    spread: str | None = None  # what low..high is, e.g. "interquartile range"
    rounds: int | None = None
    record: Record = field(default_factory=Record)
    data: tuple[float, ...] | None = None  # every round, when the run was stored with --benchmark-save-data

    @property
    def relative_iqr(self) -> float | None:
        """IQR / median: how much the rounds disagree, comparable between fast and slow operations."""
        return (self.high - self.low) / self.median if self.spread == IQR else None


@dataclass(frozen=True)
class Run:
    source: str  # the file name(s), for headers and messages
    stats: dict[tuple[str, str], Stat]  # (group, method id) -> Stat
    machine: dict = field(default_factory=dict)
    ceiling: dict[str, Stat] = field(default_factory=dict)  # op ("write", "read-cold", "read-warm") -> Stat
    commit: dict = field(default_factory=dict)  # pytest-benchmark's commit_info of the first file
    when: str | None = None  # pytest-benchmark's datetime of the first file
    # the train group, (method id or "none", mode) -> Stat: kept apart, as its own workload (the trained fp32 state)
    train: dict[tuple[str, str], Stat] = field(default_factory=dict)

    @property
    def methods(self) -> tuple[str, ...]:
        """In the order the run measured them (the registry's, for a run of the suite)."""
        return tuple(dict.fromkeys(m for _, m in self.stats))

    @property
    def file_names(self) -> str:
        """The run's files without their directories, for headings."""
        return ", ".join(Path(s).name for s in self.source.split(" + "))

    def get(self, group: str, method: str) -> Stat | None:
        return self.stats.get((group, method))

    def has(self, group: str) -> bool:
        return any(g == group for g, _ in self.stats)

    def records(self, method: str) -> list[Record]:
        """The method's records, save's first: the checkpoint the save wrote."""
        return [s.record for g in GROUPS if (s := self.get(g, method))]

    def label(self, method: str) -> str:
        return self.info("label", method) or method

    def info(self, key: str, method: str | None = None):
        """The first stored value of a record field, for one method or the whole run (None if absent)."""
        records = self.records(method) if method else [s.record for s in self.stats.values()]
        return next((v for r in records if (v := getattr(r, key)) is not None), None)

    @property
    def workload(self) -> dict:
        return workload(self.info)

    @property
    def generation(self) -> int | None:
        """What its timings mean (runschema.GENERATION); every benchmark of a run shares it."""
        return next(iter(self.stats.values())).record.generation if self.stats else None


def newest_run(storage: Path) -> Path:
    """The most recently written run file under pytest-benchmark's storage directory."""
    files = sorted(storage.glob("**/*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    if not files:
        raise RunError(f"no stored runs under {storage}/; pass a run file, or {RUN_HINT}")
    return files[-1]


def load_each(path: Path) -> list[Run]:
    """A run file, or every run file under a directory (e.g. a --benchmark-storage of repeated runs), each its own run."""
    if not path.is_dir():
        return [load_runs([path])]
    files = sorted(path.glob("**/*.json"))
    if not files:
        raise RunError(f"{path}/: no run files (*.json) under it; {RUN_HINT} with --benchmark-storage={path}")
    return [load_runs([f]) for f in files]


def load_runs(paths: list[Path]) -> Run:
    """One report's run from one or more files (e.g. methods run separately); they must measure one workload."""
    return _build([(str(p), read_json(p)) for p in paths])


def parse_run(data, source: str) -> Run:
    """A run from already-parsed JSON, e.g. the one pytest-benchmark just generated."""
    return _build([(source, data)])


def read_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{path}: no such run file; pass a JSON file from .benchmarks/, or {RUN_HINT}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: cannot be read as a run file ({getattr(e, 'strerror', None) or e})") from None
    if not text.strip():
        raise RunError(f"{path}: the file is empty; pass a run that finished, or {RUN_HINT} again")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RunError(
            f"{path}: not valid JSON ({e.msg}, line {e.lineno}); the run file is corrupt, {RUN_HINT} again"
        ) from None


def _build(files: list[tuple[str, object]]) -> Run:
    stats: dict[tuple[str, str], Stat] = {}
    ceiling: dict[str, Stat] = {}
    train: dict[tuple[str, str], Stat] = {}
    origin: dict[tuple, str] = {}
    for source, data in files:
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise RunError(
                f"{source}: not a pytest-benchmark run (no 'benchmarks' list); pass a file from .benchmarks/"
            )
        for i, entry in enumerate(data["benchmarks"]):
            if not isinstance(entry, dict):
                raise RunError(f"{source}: benchmark #{i} is not a JSON object; the run file is corrupt")
            group = entry.get("group")
            if group not in (*GROUPS, *REPORTED_ONLY, CEILING):  # --ckpt-async's too (tables.async_table, train_table)
                continue  # other groups are not part of these reports
            record = read_record(entry, f"{source}: benchmark #{i}")
            key = (group, benchmark_id(entry, record, group, f"{source}: benchmark #{i}"))
            if group == TRAIN:
                key = (*key, train_mode(entry, record, f"{source}: benchmark #{i}"))
            what = f"{key[0]} of {' '.join(key[1:])}"  # "save of t5x", "train of t5x async"
            stat = read_stat(entry, record, f"{source}: {what}")
            if group == CEILING:
                key = (*key, record.streams or 1)  # one ceiling benchmark per operation and stream count
            if key in origin:  # of two workloads, that is the error to report
                peers = list(train.values()) if group == TRAIN else [*stats.values(), *ceiling.values()]
                _check_one_workload([*peers, stat], source)
                raise RunError(f"{source}: {what} is also in {origin[key]}; pass each method's run once")
            origin[key] = source
            if group == TRAIN:
                train[key[1:]] = stat
            elif group != CEILING:
                stats[key] = stat
            elif key[1] not in ceiling or stat.median < ceiling[key[1]].median:  # the bound: the fastest stream count
                ceiling[key[1]] = stat
    first = files[0][1]
    machine, commit = (d if isinstance(d := first.get(k), dict) else {} for k in ("machine_info", "commit_info"))
    when = first.get("datetime") if isinstance(first.get("datetime"), str) else None
    run = Run(" + ".join(s for s, _ in files), stats, machine, ceiling, commit, when, train)
    groups = sorted({g for g, _ in stats})
    for group in REQUIRED:
        if not run.has(group):
            raise RunError(
                f"{run.source}: no '{group}' benchmarks (it has: {', '.join(groups) or 'none'}); the report needs "
                f"'save' and 'load-cold', so run `pytest bench/ --benchmark-only` without -k or -m filters"
            )
    _check_one_workload([*stats.values(), *ceiling.values()], run.source)
    _check_one_workload([*train.values()], run.source)
    return run


def _check_one_workload(stats: list[Stat], source: str) -> None:
    for key in (*WORKLOAD, "generation"):
        values = sorted({str(v) for s in stats if (v := getattr(s.record, key)) is not None})
        if len(values) > 1:
            what = "schema generations" if key == "generation" else key
            raise RunError(
                f"{source}: mixes runs of {what} {' and '.join(values)}; one report shows one workload, "
                f"use `python -m plotting --compare A.json B.json` to set two side by side"
            )


def check_same_generation(a: Run, b: Run) -> None:
    """Two runs whose timings mean the same thing (runschema.GENERATION), else one line."""
    if a.generation != b.generation:
        raise RunError(
            f"{a.source} and {b.source} were stored by versions of ckpt-bench whose timings differ in meaning "
            f"(schema generations {a.generation} and {b.generation}); rerun the older one with this version"
        )


def benchmark_id(entry: dict, record: Record, group: str, where: str) -> str:
    """A method benchmark's method id, or a ceiling benchmark's op: the record's, else the params' (plain strings
    since schema 2), else pytest's param id (schema 1)."""
    key = "op" if group == CEILING else "method"
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    for candidate in (getattr(record, key), params.get(key), entry.get("param")):
        if isinstance(candidate, str) and candidate and not candidate.startswith("UNSERIALIZABLE"):
            return candidate
    noun = "op" if key == "op" else "method id"
    raise RunError(f"{where}: no {noun} (neither extra_info.{key} nor params.{key}); the run file is corrupt")


def train_mode(entry: dict, record: Record, where: str) -> str:
    """A train benchmark's mode: the record's, else the params'."""
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    mode = record.mode or params.get("mode")
    if mode not in (TRAIN_NONE, *TRAIN_MODES):
        raise RunError(f"{where}: train mode {mode!r}, not one of {', '.join((TRAIN_NONE, *TRAIN_MODES))}; "
                       f"the run file is corrupt")
    return mode


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_record(entry: dict, where: str) -> Record:
    try:
        record = Record.from_json(entry.get("extra_info") or {})
    except RecordError as e:
        raise RunError(f"{where}: {e}; the run file is corrupt") from None
    try:
        check_version(record.schema_version, where)
    except RecordError as e:
        raise RunError(str(e)) from None
    return record


def read_stat(entry: dict, record: Record, where: str) -> Stat:
    stats = entry.get("stats")
    if not isinstance(stats, dict) or not _number(stats.get("median")) or stats["median"] <= 0:
        raise RunError(f"{where}: no positive stats.median; the run file is corrupt")
    low, high, spread = next(
        ((stats[a], stats[b], name) for a, b, name in SPREADS if _number(stats.get(a)) and _number(stats.get(b))),
        (None, None, None),
    )
    data = stats.get("data")
    if data is not None and not (isinstance(data, list) and data and all(_number(x) and x >= 0 for x in data)):
        raise RunError(f"{where}: stats.data is not a list of round times; the run file is corrupt")
    data = tuple(data) if data else None
    at = record.rounds_at
    if at is not None and not (all(isinstance(k, int) and not isinstance(k, bool) for k in at)
                               and (data is None or len(at) == len(data))):
        raise RunError(f"{where}: extra_info.rounds_at is not one position per stored round; the run file is corrupt")
    rounds = stats.get("rounds") if _number(stats.get("rounds")) else len(data) if data else None
    return Stat(stats["median"], low, high, spread, rounds, record, data)
