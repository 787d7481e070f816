"""Checks a dataset must pass before any training: finite values, and shapes that fit the environment.

Both fail with a one-line `DatasetError` that names the dataset and what is wrong, so a bad
file stops a run in seconds instead of as a NaN or a broadcast error minutes later.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitamin_jax import envs
from vitamin_jax.errors import DatasetError

CHECKED_FIELDS = ("observations", "actions", "rewards", "next_observations")


def check_finite(trajectories: Sequence[dict], source: str) -> None:
    """Every observation, action and reward is finite; else name the field and the first episode."""
    for field in CHECKED_FIELDS:
        for index, traj in enumerate(trajectories):
            values = np.asarray(traj[field])
            if not np.all(np.isfinite(values)):
                kind = "NaN" if np.isnan(values).any() else "inf"
                step = int(np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))[0])
                raise DatasetError(f"dataset {source}: {field} of episode {index} (step {step}) hold {kind}; "
                                   f"repair or regenerate the dataset")


def check_matches_env(trajectories: Sequence[dict], spec: Any, source: str, env_kwargs: Any = None) -> None:
    """Dataset observation/action dims equal the environment's, and the env's actions span [-1, 1].

    `env_kwargs`: the run's `make_env` options (`vitamin_jax.envs.options.env_options(config)`).
    """
    env = envs.make_env(spec.name, **dict(env_kwargs or {}))
    try:
        obs_dim, act_dim = env.observation_space.shape[-1], env.action_space.shape[-1]
        low, high = np.asarray(env.action_space.low), np.asarray(env.action_space.high)
    finally:
        env.close()
    data_obs = np.asarray(trajectories[0]["observations"]).shape[-1]
    data_act = np.asarray(trajectories[0]["actions"]).shape[-1]
    if (data_obs, data_act) != (obs_dim, act_dim):
        raise DatasetError(f"dataset {source} does not fit {spec.env_id} ({spec.name}): observations "
                           f"{data_obs}-dim and actions {data_act}-dim in the data, {obs_dim} and {act_dim} in the "
                           f"environment; pass the dataset recorded for this environment")
    if not (np.allclose(low, -1.0) and np.allclose(high, 1.0)):
        raise DatasetError(f"environment {spec.env_id} has action bounds [{low.min():g}, {high.max():g}], but the "
                           f"actor's tanh head acts in [-1, 1]")
