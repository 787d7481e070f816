"""Environments of the paper: registry, construction with the right wrappers, scores."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import gymnasium as gym
import numpy as np

from vitamin_jax.envs.make import AUTORESET_MODE, make_env, make_vector_env
from vitamin_jax.envs.registry import (
    GOAL_RADIUS,
    REGISTRY,
    DatasetSpec,
    EnvVersion,
    FrozenKwargs,
    UnknownDatasetError,
    dataset_names,
    get_spec,
)
from vitamin_jax.envs.toy import TOY_ENV_ID, SingleStateToyEnv, toy_dataset, toy_reward
from vitamin_jax.envs.wrappers import flatten_observation, goal_layout_to_d4rl, state_vector

if TOY_ENV_ID not in gym.registry:
    gym.register(TOY_ENV_ID, entry_point=SingleStateToyEnv, max_episode_steps=1)


def normalized_score(name: str, raw_return: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
    """D4RL normalised score 100 x (return - min) / (max - min); return in the env's raw units."""
    spec = get_spec(name)
    score = 100.0 * (np.asarray(raw_return, np.float64) - spec.ref_min) / (spec.ref_max - spec.ref_min)
    return float(score) if np.ndim(score) == 0 else score


def success_rate(name: str, raw_returns: Optional[Sequence[float]] = None, *,
                 episode_lengths: Optional[Sequence[int]] = None) -> float:
    """AntMaze: the fraction (not the original's count out of 10) of episodes that reached the goal.

    From raw sparse returns: the eval env ends the episode on the first step within 0.5 of the
    fixed goal and pays 1 there, 0 elsewhere, so return > 0 iff reached. Or, as the original, from
    episode lengths: an episode shorter than the time limit ended at the goal (this misses a
    goal reached on the very last step, which the return counts).
    """
    spec = get_spec(name)
    if not spec.reports_success_rate:
        raise ValueError(f"success rate is defined for AntMaze only, not {name!r}")
    if (raw_returns is None) == (episode_lengths is None):
        raise ValueError("pass exactly one of raw_returns or episode_lengths")
    if raw_returns is not None:
        reached = np.asarray(raw_returns, np.float64) > 0
    else:
        reached = np.asarray(episode_lengths) < spec.max_episode_steps
    if reached.size == 0:
        raise ValueError("no episodes")
    return float(np.mean(reached))


__all__ = [  # the wrappers themselves are in vitamin_jax.envs.wrappers, applied by vitamin_jax.envs.make
    "AUTORESET_MODE", "GOAL_RADIUS", "REGISTRY", "DatasetSpec", "EnvVersion", "FrozenKwargs",
    "UnknownDatasetError", "dataset_names", "get_spec", "make_env", "make_vector_env", "normalized_score",
    "success_rate", "flatten_observation", "goal_layout_to_d4rl", "state_vector", "toy_dataset", "toy_reward",
]
