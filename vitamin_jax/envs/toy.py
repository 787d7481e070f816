"""The paper's single-state toy MDP (Sec. 3.1, Fig. 2) as a gymnasium env, and its dataset.

One state, one step, a in [-1, 1], r(a) = (a+1)^2 for a <= 0 else 1 - 2a: the optimum a = 0
lies between two low-reward clusters of offline actions, (-1, -0.95) and (0.5, 1).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

TOY_ENV_ID = "vitamin/SingleStateToy-v0"


def toy_reward(action) -> np.ndarray:
    a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
    return np.where(a <= 0, (a + 1.0) ** 2, 1.0 - 2.0 * a)


class SingleStateToyEnv(gym.Env):
    """Observation: a constant 1-vector. Every episode ends after one step."""

    metadata = {"render_modes": []}
    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
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
