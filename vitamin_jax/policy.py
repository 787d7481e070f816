"""A saved actor of ours as a step-by-step policy (for dataset generation and inspection).

`load_policy(run_dir)` restores the run's newest checkpoint (vitamin_jax/saved_agent.py, which
evaluation uses too) and acts on one environment with the same context handling as the
rollout worker.
"""

from __future__ import annotations

import functools
import os

import jax
import ml_collections
import numpy as np

from vitamin_jax import envs
from vitamin_jax.agent import Learner
from vitamin_jax.errors import SavedRunError
from vitamin_jax.rollout import ContextWindows, select_action
from vitamin_jax.saved_agent import load_run_config, restore_agent
from vitamin_jax.workdir import CONFIG_FILE


def _run_dir(path: str) -> str:
    for candidate in (path, os.path.dirname(os.path.abspath(path))):
        if os.path.exists(os.path.join(candidate, CONFIG_FILE)):
            return candidate
    raise SavedRunError(f"{path!r} is not a run directory of ours (no config.json there or one level up)")


class DecisionTransformerPolicy:
    """reset() / act(observation) / observe(raw_reward), conditioned on a target return."""

    def __init__(self, learner: Learner, actor_params, config: ml_collections.ConfigDict, state_mean: np.ndarray,
                 state_std: np.ndarray, *, noise: float, seed: int, target_return: float):
        self.spec = envs.get_spec(config.env_name)
        self.config, self.params = config, actor_params
        self.state_mean, self.state_std = state_mean.astype(np.float32), state_std.astype(np.float32)
        self.target_return = target_return
        self.act_fn = jax.jit(functools.partial(select_action, learner.actor, explore=noise > 0, expl_noise=noise))
        self.key = jax.random.PRNGKey(seed)
        self.reset()

    def reset(self) -> None:
        m = self.config.model
        self.windows = ContextWindows(1, m.context_len, m.eval_context_length, self.state_mean.shape[0],
                                      self.learner_act_dim)
        self.rtg = self.target_return * self.config.online.reward_scale
        self.t = 0

    @property
    def learner_act_dim(self) -> int:
        return int(self.params["params"]["embed_action"]["dense"]["kernel"].shape[0])

    def act(self, observation: np.ndarray) -> np.ndarray:
        state = (np.asarray(observation, np.float32) - self.state_mean) / self.state_std
        self.windows.push(state[None], np.array([self.rtg], np.float32), self.t)
        self.key, key = jax.random.split(self.key)
        w = self.windows
        action = np.asarray(self.act_fn(self.params, w.states, w.actions, w.rtg, w.timesteps, w.mask, key))
        self.windows.set_last_action(action)
        return action[0]

    def observe(self, reward: float) -> None:
        """`reward` is the raw environment reward; the RTG is in the run's wrapped units."""
        wrapped = self.spec.wrap_reward(reward)
        self.rtg -= wrapped * self.config.online.reward_scale
        self.t += 1


def load_policy(checkpoint_dir: str, *, noise: float = 0.0, seed: int = 0,
                target_return: float | None = None, seed_index: int = 0) -> DecisionTransformerPolicy:
    """The actor of run `seed_index` (0 for a single-seed run) of the run directory (or its checkpoints/)."""
    run_dir = _run_dir(checkpoint_dir)
    config = load_run_config(run_dir)
    saved = restore_agent(config, run_dir)  # the newest checkpoint, verified
    actor_params = jax.tree.map(lambda x: x[seed_index], saved.agent.actor_params)
    target = config.online.eval_rtg if target_return is None else target_return
    return DecisionTransformerPolicy(saved.learner, actor_params, config, saved.state_mean, saved.state_std,
                                     noise=noise, seed=seed, target_return=target)
