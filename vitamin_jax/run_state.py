"""What a run carries from iteration to iteration, and how it is saved and restored.

The restore policy (newest checkpoint that verifies, damaged ones set aside, every process
agreeing) lives here next to the loop counters it restores; `vitamin_jax.checkpointing`
writes and verifies the files (docs/design.md#the-training-loop, docs/faithfulness.md#full-checkpoints).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Optional

import ml_collections
import numpy as np

from vitamin_jax import distributed
from vitamin_jax.agent import Learner
from vitamin_jax.checkpointing import Checkpointer, DamagedCheckpoint, DiskFull
from vitamin_jax.data.batches import RunReplay
from vitamin_jax.data.loading import first_line
from vitamin_jax.errors import TrainingError
from vitamin_jax.streams import initial_agents, run_seeds
from vitamin_jax.timing import Timings


@dataclasses.dataclass
class LoopState:
    """Counters of the outer loop; saved in every checkpoint."""

    global_iteration: int = 0  # pretraining and online iterations completed
    pretrain_iteration: int = 0
    online_iteration: int = 0
    online_transitions: list = dataclasses.field(default_factory=lambda: [0])  # per seed
    updates: int = 0
    online_started: bool = False
    wall_time: float = 0.0


class Run:
    """What a run carries from iteration to iteration, and its checkpoints.

    Holds the agent state [S, ...], the loop counters, the host NumPy generators and the
    run's `RunReplay`; `save` / `restore` make a killed run continue exactly.
    """

    def __init__(self, config: ml_collections.ConfigDict, workdir: str, learner: Learner, replay: RunReplay):
        self.config, self.workdir = config, workdir
        self.seeds = run_seeds(config)
        self.replay = replay
        self.agent = initial_agents(learner, self.seeds)
        self.np_rngs = [np.random.default_rng(seed) for seed in self.seeds]  # host sampler only
        self.loop = LoopState(online_transitions=[0] * len(self.seeds))
        self.started_at = time.time()  # wall-clock origin of loop.wall_time; reset when the loop starts
        self.timings = Timings()  # this iteration's sections (vitamin_jax/timing.py)
        self.checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.checkpoint.keep)
        self.restored_step: Optional[int] = None  # the checkpoint this start resumed from
        self.restored_verified = False  # whether its digest was checked (False: written before digests)

    def restore(self) -> Optional[int]:
        """Restore the newest checkpoint that restores and matches its digest; its iteration, else None.

        A checkpoint that fails (files of another size than saved, contents that differ from
        the save's digest, unreadable metadata) is skipped; once an older one restores, one
        warning line names the damaged ones, which move to `corrupt_checkpoints/`. Every process
        of a job reaches the same verdict on every step. If none restores the run refuses to
        start (nothing moved), rather than silently start over a workdir that has results.
        Checkpoints written before digests existed (no step has one) restore unverified.
        """
        steps = self.checkpointer.all_steps()
        legacy = self.checkpointer.written_before_digests()
        failed = {}
        for step in steps:
            reason = self._restore_step(step, require_digest=not legacy)
            if reason is not None:
                failed[step] = reason
                continue
            self.restored_step, self.restored_verified = step, not legacy
            aside = os.path.join(self.workdir, "corrupt_checkpoints")
            for bad in failed:  # out of the way of the steps this run will save again
                self.checkpointer.set_aside(bad, aside, move=distributed.is_primary())
            if failed and distributed.is_primary():
                print(f"warning: {_damaged(failed, self.checkpointer.directory)}; resumed from checkpoint {step}, "
                      f"the damaged ones are in {aside}", file=sys.stderr)
            if legacy and distributed.is_primary():
                print(f"warning: the checkpoints in {self.checkpointer.directory} have no digests (written before "
                      f"checkpoints were verified); checkpoint {step} restored unverified", file=sys.stderr)
            if distributed.is_primary():
                verified = "digest verified" if not legacy else "unverified"
                print(f"Resumed from {self.checkpointer.directory} at iteration {step} ({verified}).")
            return step
        if steps:
            reasons = "; ".join(f"{step}: {reason}" for step, reason in failed.items())
            raise TrainingError(f"no checkpoint in {self.checkpointer.directory} restores ({reasons}); the "
                                f"run's outputs are left as they are: move the workdir away to start over, or use "
                                f"another --workdir")
        return None

    def _restore_step(self, step: int, require_digest: bool) -> Optional[str]:
        """Restore `step` into this run; why it does not restore, or None. Every process agrees."""
        try:  # sizes first: orbax never reads a truncated or missing file
            self.checkpointer.verify_files(step, require_digest)
            reason = None
        except DamagedCheckpoint as e:
            reason = str(e)
        reason = _agreed(reason)
        if reason is not None:
            return reason
        try:
            self.agent, arrays, meta = self.checkpointer.restore(step, self.agent, require_digest)
            self.replay.load_state_dict(arrays)
            for rng, state in zip(self.np_rngs, meta["np_rngs"]):
                rng.bit_generator.state = state
            self.loop = LoopState(**meta["loop"])
        except DamagedCheckpoint as e:
            reason = str(e)
        except Exception as e:  # orbax/tensorstore raise many kinds for damaged files
            reason = f"{type(e).__name__}: {first_line(e)}"
        return _agreed(reason)

    def save(self) -> None:
        meta = {"loop": dataclasses.asdict(self.loop), "np_rngs": [r.bit_generator.state for r in self.np_rngs]}
        try:
            self.checkpointer.save(self.loop.global_iteration, self.agent, self.replay.state_dict(), meta)
        except DiskFull as e:
            raise TrainingError(str(e)) from None

    def due_checkpoint(self, global_iteration: Optional[int] = None) -> bool:
        """Whether the iteration that ends at `global_iteration` (default: the current one) checkpoints."""
        at = self.loop.global_iteration if global_iteration is None else global_iteration
        return at % self.config.checkpoint.every_iters == 0

    def active(self) -> np.ndarray:
        """[S] seeds still below the online transition budget."""
        return np.array(self.loop.online_transitions) < self.config.online.max_online_transitions


def _agreed(reason: Optional[str]) -> Optional[str]:
    """This process's verdict on a checkpoint, or, if another process found it damaged, that one's."""
    if not distributed.multi_process():
        return reason
    damaged = distributed.all_processes(np.array([reason is not None]))[:, 0]
    if reason is None and damaged.any():
        return f"process {int(np.flatnonzero(damaged)[0])} of this job found it damaged"
    return reason


def _damaged(failed: dict, directory: str) -> str:
    """'checkpoint 4 in DIR does not restore (why)' for one or several steps."""
    if len(failed) == 1:
        (step, reason), = failed.items()
        return f"checkpoint {step} in {directory} does not restore ({reason})"
    reasons = "; ".join(f"{step}: {reason}" for step, reason in failed.items())
    return f"checkpoints {', '.join(map(str, failed))} in {directory} do not restore ({reasons})"
