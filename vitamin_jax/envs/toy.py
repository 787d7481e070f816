"""The paper's single-state toy MDP (Sec. 3.1, Fig. 2) as a gymnasium env, and its dataset.

One state, one step, a in [-1, 1], r(a) = (a+1)^2 for a <= 0 else 1 - 2a: the optimum a = 0
lies between two low-reward clusters of offline actions, (-1, -0.95) and (0.5, 1).
"""

from __future__ import annotations

from typing import Any, Optional

import gymnasium as gym
import numpy as np

from vitamin_jax.envs.registry import TOY_ENV_ID  # noqa: F401  (re-exported)


def toy_reward(action: Any) -> np.ndarray:
    """r(a) = (a+1)^2 for a <= 0 else 1 - 2a, a clipped to [-1, 1]; peak 1 at a = 0."""
    a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
    return np.where(a <= 0, (a + 1.0) ** 2, 1.0 - 2.0 * a)


class SingleStateToyEnv(gym.Env):
    """Observation: a constant 1-vector. Every episode ends after one step."""

    metadata = {"render_modes": []}

    def __init__(self, render_mode: Optional[str] = None):
        # Per instance: spaces carry their own RNG, which make_env seeds.
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.render_mode = render_mode

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = float(toy_reward(np.asarray(action).reshape(-1)[0]))
        return np.ones(1, np.float32), reward, True, False, {}


def toy_dataset(seed: int) -> list[dict]:
    """128 one-step trajectories: 100 actions uniform in (-1, -0.95), 28 in (0.5, 1)."""
    rng = np.random.default_rng(seed)
    actions = np.concatenate([0.05 * rng.random(100) - 1.0, 0.5 * rng.random(28) + 0.5]).astype(np.float32)
    one = np.ones((1, 1), np.float32)
    return [{
        "observations": one, "actions": np.array([[a]], np.float32),
        "rewards": np.array([toy_reward(a)], np.float32), "next_observations": one,
        "terminals": np.ones(1, np.float32), "timeouts": np.zeros(1, np.float32),
    } for a in actions]
