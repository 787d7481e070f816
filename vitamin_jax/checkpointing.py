"""Orbax checkpoints of everything that makes a run the same run.

Saved per checkpoint: the agent state (params, targets, temperature, optimiser states,
counters, JAX RNG), the replay buffer (flattened arrays), the state normalisation, and a
JSON record of the loop counters and the host NumPy RNG state. The original saved the
actor only (docs/faithfulness.md#full-checkpoints); a resumed run here continues bit-for-bit.

orbax does not notice every damage: its array chunks are stored raw, so random bytes or a
flipped bit in a chunk restore without an error. So every save also writes a digest sidecar
(`DIGEST_FILE` in the step directory, written atomically once orbax has committed the step):
the size of every file of the step and a 128-bit xxh3 hash of every restored leaf (SHA-256 in
format 1, still verified). A restore checks the
sizes before orbax reads anything and the leaves after; any mismatch is a `DamagedCheckpoint`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from typing import Any, Callable, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
import xxhash

from vitamin_jax import distributed
from vitamin_jax.atomic import atomic_write

DIGEST_FILE = "vitamin_digest.json"
_DIGEST_FORMAT = 2  # written; every format here is still verified
_LEAF_HASHERS = {1: hashlib.sha256, 2: xxhash.xxh3_128}  # format 1: checkpoints written before 2026-12-03


class DamagedCheckpoint(RuntimeError):
    """A checkpoint whose files or contents differ from what its save recorded."""


class DiskFull(RuntimeError):
    """Not enough free space for the next checkpoint; nothing of it was written."""


def _nbytes(tree: Any) -> int:
    return sum(int(np.asarray(x).nbytes) if not isinstance(x, jax.Array) else x.nbytes
               for x in jax.tree.leaves(tree))


def _dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(path) for name in files)


def _quiet_closed_loop_callbacks() -> None:
    """Drop the 'Event loop is closed' errors that a failed orbax read leaves behind.

    When tensorstore fails one read of a restore, orbax closes its private event loop while
    other reads are still in flight; each of their completions then tries to schedule a
    callback on the closed loop and Python prints the error as unraisable, hundreds of
    tracebacks after the one warning line that says what happened. Nothing is lost by
    dropping them: the restore has already failed and been reported. Every other unraisable
    error still reaches the previous hook.
    """
    previous = sys.unraisablehook
    if getattr(previous, "_vitamin_jax", False):
        return

    def hook(unraisable):
        if (unraisable.exc_type is RuntimeError and str(unraisable.exc_value) == "Event loop is closed"
                and unraisable.object is None):
            return
        previous(unraisable)

    hook._vitamin_jax = True
    sys.unraisablehook = hook


def _host_array(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        leaf = leaf.addressable_data(0)  # replicated over processes: every copy holds the whole value
    return np.ascontiguousarray(np.asarray(leaf))


def tree_digest(tree: Any, hasher: Callable = xxhash.xxh3_128) -> dict:
    """{leaf path: hash of its dtype, shape and bytes}."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        array = _host_array(leaf)
        h = hasher(f"{array.dtype.str}{array.shape}".encode())
        h.update(memoryview(array).cast("B") if array.size else b"")
        out[jax.tree_util.keystr(path)] = h.hexdigest()
    return out


def _meta_digest(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _file_sizes(step_dir: str) -> dict:
    sizes = {}
    for root, _, files in os.walk(step_dir):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, step_dir)
            if rel != DIGEST_FILE and not rel.startswith(DIGEST_FILE):
                sizes[rel] = os.path.getsize(path)
    return sizes


def _first_difference(recorded: dict, actual: dict) -> Optional[str]:
    for key in sorted(set(recorded) | set(actual)):
        if recorded.get(key) != actual.get(key):
            return key
    return None


class Checkpointer:
    def __init__(self, directory: str, keep: int):
        self.directory = os.path.abspath(directory)
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
        )

    def latest_step(self) -> Optional[int]:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        """Saved steps, newest first."""
        return sorted(self.manager.all_steps(), reverse=True)

    def set_aside(self, step: int, destination: str, move: bool = True) -> None:
        """Move a checkpoint that does not restore out of the manager's directory (kept for inspection).

        In a multi-process job only process 0 moves (`move`); every process then reloads.
        """
        if move:
            os.makedirs(destination, exist_ok=True)
            os.replace(os.path.join(self.directory, str(step)), os.path.join(destination, str(step)))
        distributed.barrier(f"set aside checkpoint {step}")
        self.manager.reload()

    def step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def has_digest(self, step: int) -> bool:
        return os.path.isfile(os.path.join(self.step_dir(step), DIGEST_FILE))

    def written_before_digests(self) -> bool:
        """True if there are checkpoints and none has a digest: written before digests existed,
        they restore unverified (a directory where some have one requires it of every step)."""
        steps = self.all_steps()
        return bool(steps) and not any(self.has_digest(step) for step in steps)

    def save(self, step: int, agent: Any, arrays: dict, meta: dict) -> None:
        """agent: AgentState pytree; arrays: a pytree of NumPy arrays; meta: JSON-able dict.

        Process 0 writes the digest sidecar after orbax has committed the step (the barrier
        makes every process return only once it is there). The digest hashes with xxh3 (about
        11 GB/s here, SHA-256 under 1): about 2% of a paper-size save (experiments/bench_checkpoint.py).
        """
        self._check_space(step, agent, arrays)
        self.manager.save(
            step,
            args=ocp.args.Composite(
                agent=ocp.args.StandardSave(agent),
                arrays=ocp.args.StandardSave(arrays),
                meta=ocp.args.JsonSave(meta),
            ),
            force=True,
        )
        self.manager.wait_until_finished()
        if distributed.is_primary():
            self._write_digest(step, agent, arrays, meta)
        distributed.barrier(f"digest of checkpoint {step}")

    def _check_space(self, step: int, agent: Any, arrays: dict) -> None:
        """Refuse a save that cannot fit before orbax writes a byte (a full disk mid-save leaves
        orbax's writer threads printing hundreds of tracebacks). Every process agrees."""
        latest = self.latest_step()
        # the previous step's size on disk is the best estimate (replay buffers only grow); else the raw bytes
        previous = _dir_bytes(self.step_dir(latest)) if latest is not None else 0
        need = max(previous, _nbytes(agent) + _nbytes(arrays)) + (1 << 18)  # + orbax metadata
        free = shutil.disk_usage(self.directory).free
        short = distributed.all_processes(np.array([free < need]))[:, 0]
        if short.any():
            where = self.directory if free < need else f"process {int(np.flatnonzero(short)[0])}'s {self.directory}"
            kept = f"checkpoint {latest} is kept" if latest is not None else "no checkpoint was written yet"
            raise DiskFull(f"no space left for checkpoint {step} in {where}: it needs about {need / 2**20:.1f} MiB, "
                           f"{free / 2**20:.1f} MiB are free ({kept}); free space or copy the workdir elsewhere, "
                           f"then rerun to resume")

    def _write_digest(self, step: int, agent: Any, arrays: dict, meta: dict) -> None:
        hasher = _LEAF_HASHERS[_DIGEST_FORMAT]
        record = {"format": _DIGEST_FORMAT, "files": _file_sizes(self.step_dir(step)),
                  "agent": tree_digest(agent, hasher), "arrays": tree_digest(arrays, hasher), "meta": _meta_digest(meta)}
        atomic_write(os.path.join(self.step_dir(step), DIGEST_FILE), json.dumps(record))

    def _recorded_digest(self, step: int) -> dict:
        path = os.path.join(self.step_dir(step), DIGEST_FILE)
        try:
            with open(path) as f:
                record = json.load(f)
        except FileNotFoundError:
            raise DamagedCheckpoint(f"it has no {DIGEST_FILE} (cut between orbax's commit and the digest, or "
                                    f"written before digests existed)") from None
        except (OSError, ValueError) as e:
            raise DamagedCheckpoint(f"its {DIGEST_FILE} is unreadable ({e})") from None
        if not isinstance(record, dict) or record.get("format") not in _LEAF_HASHERS:
            raise DamagedCheckpoint(f"its {DIGEST_FILE} is not a digest of format "
                                    f"{' or '.join(map(str, _LEAF_HASHERS))}")
        return record

    def verify_files(self, step: int, require_digest: bool = True) -> None:
        """Raise DamagedCheckpoint if a file of the step is missing, extra or of another size than saved."""
        if not require_digest and not self.has_digest(step):
            return
        recorded = self._recorded_digest(step)["files"]
        actual = _file_sizes(self.step_dir(step))
        differs = _first_difference(recorded, actual)
        if differs is not None:
            raise DamagedCheckpoint(f"{differs}: {actual.get(differs, 'missing')} bytes, the save wrote "
                                    f"{recorded.get(differs, 'no such file')}")

    def verify_contents(self, step: int, agent: Any, arrays: dict, meta: dict, require_digest: bool = True) -> None:
        """Raise DamagedCheckpoint if a restored leaf differs from what the save recorded."""
        if not require_digest and not self.has_digest(step):
            return
        record = self._recorded_digest(step)
        hasher = _LEAF_HASHERS[record["format"]]
        for item, recorded, actual in (("agent", record["agent"], tree_digest(agent, hasher)),
                                       ("arrays", record["arrays"], tree_digest(arrays, hasher))):
            differs = _first_difference(recorded, actual)
            if differs is not None:
                raise DamagedCheckpoint(f"the digest of {item}{differs} does not match the one its save recorded")
        if record["meta"] != _meta_digest(meta):
            raise DamagedCheckpoint("the digest of its meta record does not match the one its save recorded")

    def restore(self, step: int, agent_like: Any, require_digest: bool = True) -> tuple[Any, dict, dict]:
        """Restore into the structure of `agent_like` (e.g. a freshly initialised state), verified.

        Raises DamagedCheckpoint when the step differs from what its save recorded, before
        orbax reads a file when sizes differ. `require_digest=False` accepts a step without a
        digest (a workdir written before digests existed) unverified.
        """
        self.verify_files(step, require_digest)
        _quiet_closed_loop_callbacks()
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, agent_like)
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                agent=ocp.args.StandardRestore(abstract),
                arrays=ocp.args.StandardRestore(),
                meta=ocp.args.JsonRestore(),
            ),
        )
        arrays = jax.tree.map(np.asarray, restored["arrays"])
        self.verify_contents(step, restored["agent"], arrays, restored["meta"], require_digest)
        return restored["agent"], arrays, restored["meta"]

    def close(self) -> None:
        self.manager.close()
