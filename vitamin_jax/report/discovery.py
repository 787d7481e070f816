"""Finding the run dirs under a report's folder and reading each run's config.json and metrics.jsonl.

The layout read is that of vitamin_jax/logger.py and vitamin_jax/train.py, never a sweep's
bookkeeping, so a report works on partial sweeps, hand-made folders and single runs alike.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from vitamin_jax.envs.registry import get_spec
from vitamin_jax.errors import UnknownDatasetError
from vitamin_jax.logger import METRICS_FILE, read_metrics
from vitamin_jax.workdir import CONFIG_FILE


class ReportError(Exception):
    """Nothing to report on (no metrics.jsonl, no readable run); main prints it as one line."""


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """One seed of one run: its scores and its curve (x = online transitions, the last pretraining evaluation at 0)."""

    seed: int
    pretrain: float  # the last pretraining evaluation's score (the first record's if none)
    final: float  # the last online evaluation's score (the latest evaluation while a run is still pretraining)
    finished: bool  # its run reached config.online.max_online_transitions
    run: str  # the run dir, relative to the report dir
    xs: tuple
    ys: tuple

    @property
    def increase(self) -> float:
        return self.final - self.pretrain


@dataclasses.dataclass(frozen=True)
class RunResult:
    """One run dir as the report reads it: what it ran, its seeds' scores, how far it got."""

    path: str  # relative to the report dir ('.' for a single run)
    dataset: str
    algo: str
    family: str
    seeds: tuple  # SeedResult per seed; empty before the first evaluation
    online_transitions: int  # the last record's (the minimum over seeds)
    budget: int  # config.online.max_online_transitions
    finished: bool
    evaluations: int
    time: dict  # time/* key -> mean seconds per iteration over the records that carry it
    config: dict  # flattened


def shown_path(root: str) -> str:
    """`root` relative to the current directory, or its name alone if it lies elsewhere:
    a committed report must not carry the absolute path of the machine it was made on."""
    rel = os.path.relpath(os.path.abspath(root))
    return os.path.basename(os.path.abspath(root)) if rel.startswith("..") else rel


def flatten_config(config: dict, prefix: str = "") -> dict:
    """A saved config.json as {'a.b': value}; AttributeError when it is not a JSON object."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _dataset(env_name: str) -> tuple[str, str]:
    """(canonical dataset name, registry family); names the registry lacks land in 'other'."""
    try:
        spec = get_spec(env_name)
    except UnknownDatasetError:
        return env_name, "other"
    return spec.name, spec.family


def _per_seed(record: dict, key: str, num_seeds: int) -> list:
    """A record's per-seed values of `key` (`key_per_seed` when the run vmapped S > 1 seeds)."""
    values = record.get(f"{key}_per_seed")
    return list(values) if values is not None else [record[key]] * num_seeds


def read_run(run_dir: str, root: str) -> RunResult:
    """One run dir -> RunResult; raises ValueError when its config.json or a metrics record is unreadable."""
    path = os.path.relpath(run_dir, root)
    try:
        with open(os.path.join(run_dir, CONFIG_FILE)) as f:
            config = flatten_config(json.load(f))
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{path}: no readable {CONFIG_FILE} ({e.__class__.__name__})") from None
    try:
        return _run_from_records(path, config, read_metrics(run_dir))
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: a {METRICS_FILE} record lacks a field of vitamin_jax/train.py's layout "
                         f"({e!r})") from None


def _run_from_records(path: str, config: dict, records: list) -> RunResult:
    dataset, family = _dataset(str(config.get("env_name", "?")))
    budget = int(config.get("online.max_online_transitions", 0))
    finished = bool(records) and records[-1]["online_transitions"] >= budget
    seeds = ()
    if records:
        num_seeds = len(records[0].get("normalized_score_per_seed", [None]))
        pre = [r for r in records if r["phase"] == "pretrain"]
        online = [r for r in records if r["phase"] == "online"]
        pretrain = _per_seed(pre[-1] if pre else records[0], "normalized_score", num_seeds)
        final = _per_seed((online or records)[-1], "normalized_score", num_seeds)
        curve_records = ([pre[-1]] if pre else []) + online
        xs = [[0] * num_seeds if r["phase"] == "pretrain" else _per_seed(r, "online_transitions", num_seeds)
              for r in curve_records]
        ys = [_per_seed(r, "normalized_score", num_seeds) for r in curve_records]
        first = int(config.get("seed", 0))
        seeds = tuple(SeedResult(first + s, float(pretrain[s]), float(final[s]), finished, path,
                                 tuple(float(x[s]) for x in xs), tuple(float(y[s]) for y in ys))
                      for s in range(num_seeds))
    time_keys = sorted({k for r in records for k in r if k.startswith("time/")})
    time = {k: float(np.mean([r[k] for r in records if k in r])) for k in time_keys}
    return RunResult(path, dataset, str(config.get("algo", "?")), family, seeds,
               int(records[-1]["online_transitions"]) if records else 0, budget, finished, len(records), time, config)


def find_runs(root: str) -> tuple[list[RunResult], list[str]]:
    """Every run dir under `root` (recursively, `root` itself included) and notes on the ones skipped."""
    if not os.path.isdir(root):
        raise ReportError(f"{root} is not a directory")
    run_dirs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("checkpoints", "tensorboard"))
        if METRICS_FILE in filenames:
            run_dirs.append(dirpath)
    if not run_dirs:
        raise ReportError(f"no {METRICS_FILE} under {root}")
    runs, notes = [], []
    for run_dir in run_dirs:
        try:
            runs.append(read_run(run_dir, root))
        except ValueError as e:
            notes.append(f"skipped {e}")
    if not runs:
        raise ReportError(f"no run under {root} has a readable {CONFIG_FILE} next to its {METRICS_FILE}")
    return runs, notes
