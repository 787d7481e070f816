"""One run per workdir: an exclusive lock, and a saved config that a resume must match.

A workdir holds one run. `claim_workdir` checks that the directory can hold a run, takes an
OS lock on `workdir/.lock` (released by the kernel when the process dies, so `kill -9` never
leaves a stale lock) and compares the requested config with the run's saved `config.json`;
config.json is (re)written only once the run has restored (`save_config`). A resume may change
presentation fields and raise the online budget; any other change is refused with the list of
differing fields.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any, Optional

import ml_collections

from vitamin_jax import distributed
from vitamin_jax.atomic import atomic_write
from vitamin_jax.errors import WorkdirError

CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
# Fields that change how a run is shown or kept, not what it computes.
PRESENTATION_FIELDS = ("log.progress_bar", "log.tensorboard", "log.wandb", "log.wandb_project", "log.wandb_mode",
                       "checkpoint.keep",
                       # how the processes of a job find each other; differs per process, not part of the run
                       "parallel.coordinator_address", "parallel.num_processes", "parallel.process_id",
                       "parallel.heartbeat_timeout_s")
BUDGET_FIELD = "online.max_online_transitions"  # may be raised: the run continues to the new budget
# Fields added after workdirs already existed, with the value that behaves as before they existed:
# a saved config without one resumes when the requested value is that one.
ADDED_FIELDS = {"online.async_collect": False}


def flatten(tree: Any, prefix: str = "") -> dict:
    """{'a.b': value} for a nested dict (lists kept as values)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_changes(saved: dict, requested: dict) -> list[tuple[str, Any, Any]]:
    """(field, saved value, requested value) for every field that differs, presentation and budget raises excluded."""
    a, b = flatten(saved), flatten(requested)
    changes = []
    for field in sorted(set(a) | set(b)):
        old, new = a.get(field, "<absent>"), b.get(field, "<absent>")
        if old == new or field in PRESENTATION_FIELDS:
            continue
        if field in ADDED_FIELDS and old == "<absent>" and new == ADDED_FIELDS[field]:
            continue
        if field == BUDGET_FIELD and isinstance(old, (int, float)) and isinstance(new, (int, float)) and new > old:
            continue
        changes.append((field, old, new))
    return changes


class WorkdirLock:
    """An exclusive `flock` on `workdir/.lock` that holds the owner's pid; `release` or process death frees it.

    `name` and `busy` (formatted with `dir` and the holder's `pid`) let a sweep directory use the same lock.
    """

    def __init__(self, workdir: str, name: str = LOCK_FILE,
                 busy: str = "workdir {dir} is in use by another run (pid {pid}); wait for it to finish, "
                             "or use another --workdir"):
        self.path = os.path.join(workdir, name)
        self._fd: Optional[int] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            self._fd = None
            raise WorkdirError(busy.format(dir=workdir, pid=holder)) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _check_layout(workdir: str) -> None:
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f"workdir {workdir} is a file, not a directory; pass another --workdir")
    for name, want_dir in (("checkpoints", True), ("metrics.jsonl", False), ("tensorboard", True),
                           (CONFIG_FILE, False)):
        path = os.path.join(workdir, name)
        if os.path.exists(path) and os.path.isdir(path) != want_dir:
            kind = "a file" if want_dir else "a directory"
            raise WorkdirError(f"{path} is {kind}, which a run's workdir never holds; move it away or use "
                               f"another --workdir")


def has_progress(workdir: str) -> bool:
    """True once the run has written an evaluation record or a checkpoint (a start that failed has not)."""
    metrics = os.path.join(workdir, "metrics.jsonl")
    checkpoints = os.path.join(workdir, "checkpoints")
    return ((os.path.isfile(metrics) and os.path.getsize(metrics) > 0)
            or (os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints))))


def check_saved_config(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Refuse `config` if the workdir holds a run (progress written) whose saved config differs."""
    saved_path = os.path.join(workdir, CONFIG_FILE)
    if not (os.path.exists(saved_path) and has_progress(workdir)):
        return
    try:
        with open(saved_path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise WorkdirError(f"{saved_path} is unreadable ({e}); it is another run's record: move it away or "
                           f"use another --workdir") from None
    changes = config_changes(saved, json.loads(config.to_json_best_effort()))
    if changes:
        listed = ", ".join(f"{field}: {old} -> {new}" for field, old, new in changes)
        raise WorkdirError(f"workdir {workdir} holds a run with another config ({listed}); resume it with "
                           f"its own config, or start this one in another --workdir")


def _claim_one_process(workdir: str, config: ml_collections.ConfigDict) -> WorkdirLock:
    _check_layout(workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        lock = WorkdirLock(workdir)
    except OSError as e:
        raise WorkdirError(f"workdir {workdir!r} is not writable: {e.strerror}") from None
    try:
        check_saved_config(workdir, config)
    except BaseException:
        lock.release()
        raise
    return lock


class _NoLock:
    """What the other processes of a job hold: process 0 holds the workdir's lock."""

    def release(self) -> None:
        pass


def save_config(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Write the run's config.json (process 0), once the run is known to start or resume."""
    if distributed.is_primary():
        atomic_write(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))


def claim_workdir(workdir: str, config: ml_collections.ConfigDict):
    """Create and lock `workdir` and refuse a config that differs from its saved run; writes nothing else.

    config.json is written by `save_config` once the run has restored (or found nothing to
    restore), so a refused start leaves the workdir as it was. In a multi-process job process 0
    claims; then every other process checks its own config against the saved one (all
    processes must run one config). Returns the lock.
    """
    def check_only():
        check_saved_config(workdir, config)
        return _NoLock()

    return distributed.primary_first(lambda: _claim_one_process(workdir, config), check_only,
                                     f"claim workdir {workdir}", WorkdirError)
