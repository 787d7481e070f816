"""Environments of the paper: registry, construction with the right wrappers, scores."""

from __future__ import annotations

import warnings
from typing import Optional

import gymnasium as gym
import numpy as np

from vitamin_jax.envs.registry import (
    REGISTRY, DatasetSpec, UnknownDatasetError, dataset_names, get_spec,
)
from vitamin_jax.envs.toy import TOY_ENV_ID, SingleStateToyEnv, toy_dataset, toy_reward
from vitamin_jax.envs.wrappers import DelayedReward, FlattenGoalObservation, Float32Observation, flatten_observation

def _route_mujoco_warnings() -> None:
    """Send MuJoCo's C-level warnings through Python's `warnings`, once per message.

    By default MuJoCo prints them on every model load (HalfCheetah-v5 triggers one per
    environment) and appends them to MUJOCO_LOG.TXT in the working directory.
    """
    import mujoco

    seen: set = set()

    def on_warning(message: str) -> None:
        if message not in seen:
            seen.add(message)
            warnings.warn(f"MuJoCo: {message.strip()}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(on_warning)


_route_mujoco_warnings()

if TOY_ENV_ID not in gym.registry:
    gym.register(TOY_ENV_ID, entry_point=SingleStateToyEnv, max_episode_steps=1)

_ROBOTICS_REGISTERED = False


def _register_robotics() -> None:
    global _ROBOTICS_REGISTERED
    if not _ROBOTICS_REGISTERED:
        with warnings.catch_warnings():
            # gymnasium-robotics warns on import that Adroit v1 dense rewards changed in 1.2.1;
            # we use v1, the environments D4RL's Adroit data was collected on.
            warnings.filterwarnings("ignore", message=".*reward functions were updated.*")
            import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
        _ROBOTICS_REGISTERED = True


def make_env(name: str, seed: Optional[int] = None, delayed_reward: int = 0, *, raw: bool = False) -> gym.Env:
    """The environment of dataset `name`, with the time limit of D4RL.

    raw=False: delayed reward (innermost, when > 1), reward r / divisor + shift, flat goal
    observations, float32 observations. raw=True: the bare env (dict observations, raw rewards), for generating
    datasets. When `seed` is given the env, its action and observation spaces are seeded;
    the caller's first `reset(seed=...)` decides the episodes.
    """
    spec = get_spec(name)
    if spec.family in ("adroit", "antmaze", "maze2d"):
        _register_robotics()
    env = gym.make(spec.env_id, max_episode_steps=spec.max_episode_steps, **dict(spec.env_kwargs))
    if not raw:
        if delayed_reward and delayed_reward > 1:
            env = DelayedReward(env, delayed_reward)
        if spec.reward_divisor != 1.0 or spec.reward_shift != 0.0:
            divisor, shift = spec.reward_divisor, spec.reward_shift
            env = gym.wrappers.TransformReward(env, lambda r: r / divisor + shift)
        if spec.is_goal_conditioned:
            env = FlattenGoalObservation(env)
        elif env.observation_space.dtype != np.float32:
            env = Float32Observation(env)
    if seed is not None:
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def normalized_score(name: str, raw_return):
    """D4RL normalised score 100 x (return - min) / (max - min); return in raw env units."""
    spec = get_spec(name)
    score = 100.0 * (np.asarray(raw_return, np.float64) - spec.ref_min) / (spec.ref_max - spec.ref_min)
    return float(score) if np.ndim(score) == 0 else score


def success_rate(name: str, raw_returns) -> float:
    """AntMaze: fraction of episodes that reached the goal (raw sparse return > 0)."""
    if get_spec(name).family != "antmaze":
        raise ValueError(f"success rate is defined for AntMaze only, not {name!r}")
    return float(np.mean(np.asarray(raw_returns) > 0))


__all__ = [
    "REGISTRY", "DatasetSpec", "UnknownDatasetError", "dataset_names", "get_spec", "make_env", "normalized_score",
    "success_rate", "flatten_observation", "toy_dataset", "toy_reward", "DelayedReward", "FlattenGoalObservation",
]
