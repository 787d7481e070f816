"""A trained run's checkpoint as an agent: the one restore that evaluation and saved policies share.

`restore_agent` rebuilds the learner from the run's own config.json, restores checkpoint
`step` (the newest by default) with its digest verified (checkpoints written before digests
existed restore unverified), and returns the state normalisation saved with it, so no dataset
is needed (vitamin_jax/evaluate.py, vitamin_jax/policy.py).
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple, Optional

import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from vitamin_jax import envs
from vitamin_jax.agent import Learner
from vitamin_jax.checkpointing import Checkpointer, DamagedCheckpoint
from vitamin_jax.envs.options import env_options
from vitamin_jax.errors import SavedRunError
from vitamin_jax.streams import initial_agents, run_seeds
from vitamin_jax.workdir import CONFIG_FILE


class SavedAgent(NamedTuple):
    agent: Any  # AgentState with a leading [S] seed axis
    state_mean: np.ndarray
    state_std: np.ndarray
    learner: Learner
    global_iteration: int  # the loop iteration the checkpoint was saved at


def load_run_config(workdir: str) -> ml_collections.ConfigDict:
    """The run's config.json as a ConfigDict; a one-line SavedRunError if `workdir` is not a run's."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isdir(workdir):
        raise SavedRunError(f"{workdir} is not a directory (pass a run's workdir)")
    try:
        with open(path) as f:
            return ml_collections.ConfigDict(json.load(f))
    except FileNotFoundError:
        raise SavedRunError(f"{workdir} holds no {CONFIG_FILE}: it is not a run's workdir") from None
    except ValueError as e:
        raise SavedRunError(f"{path} is unreadable ({e})") from None


def restore_agent(config: ml_collections.ConfigDict, workdir: str, step: Optional[int] = None) -> SavedAgent:
    """Checkpoint `step` (newest if None) of `workdir`, verified; SavedRunError names what is wrong."""
    directory = os.path.join(workdir, "checkpoints")
    checkpointer = Checkpointer(directory, config.checkpoint.keep) if os.path.isdir(directory) else None
    steps = checkpointer.all_steps() if checkpointer else []
    if not steps:
        raise SavedRunError(f"{workdir} has no checkpoint yet (nothing in {directory})")
    step = steps[0] if step is None else step
    if step not in steps:
        raise SavedRunError(f"{workdir} has no checkpoint {step}; it has {', '.join(map(str, sorted(steps)))}")
    try:
        mean, std = _saved_normalisation(checkpointer, step)
        learner = Learner.from_config(config, mean.shape[-1], _action_dim(config), bool(config.critic.layer_norm))
        like = initial_agents(learner, run_seeds(config))
        agent, _, meta = checkpointer.restore(step, like, require_digest=not checkpointer.written_before_digests())
    except DamagedCheckpoint as e:
        raise SavedRunError(f"checkpoint {step} in {directory} is damaged ({e}); pick another with --step") from None
    finally:
        checkpointer.close()
    return SavedAgent(agent, mean, std, learner, meta["loop"]["global_iteration"])


def _saved_normalisation(checkpointer: Checkpointer, step: int) -> tuple[np.ndarray, np.ndarray]:
    arrays = checkpointer.manager.restore(step, args=ocp.args.Composite(arrays=ocp.args.StandardRestore()))["arrays"]
    return np.asarray(arrays["state_mean"]), np.asarray(arrays["state_std"])


def _action_dim(config: ml_collections.ConfigDict) -> int:
    env = envs.make_env(config.env_name, **env_options(config))
    try:
        return int(env.action_space.shape[0])
    finally:
        env.close()
