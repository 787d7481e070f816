"""Orbax checkpoints of everything that makes a run the same run.

Saved per checkpoint: the agent state (params, targets, temperature, optimiser states,
counters, JAX RNG), the replay buffer (flattened arrays), the state normalisation, and a
JSON record of the loop counters and the host NumPy RNG state. The original saved the
actor only (docs/faithfulness.md#full-checkpoints); a resumed run here continues bit-for-bit.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp


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
        from vitamin_jax import distributed

        if move:
            os.makedirs(destination, exist_ok=True)
            os.replace(os.path.join(self.directory, str(step)), os.path.join(destination, str(step)))
        distributed.barrier(f"set aside checkpoint {step}")
        self.manager.reload()

    def save(self, step: int, agent: Any, arrays: dict, meta: dict) -> None:
        """agent: AgentState pytree; arrays: a pytree of NumPy arrays; meta: JSON-able dict."""
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

    def restore(self, step: int, agent_like: Any) -> tuple[Any, dict, dict]:
        """Restore into the structure of `agent_like` (e.g. a freshly initialised state)."""
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
        return restored["agent"], arrays, restored["meta"]

    def close(self) -> None:
        self.manager.close()
