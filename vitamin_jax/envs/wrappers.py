"""Environment wrappers: delayed reward and flattened goal-conditioned observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def flatten_observation(obs) -> np.ndarray:
    """Dict observation -> concat(observation, achieved_goal, desired_goal) on the last axis."""
    if isinstance(obs, dict):
        return np.concatenate([np.asarray(obs[k], np.float32) for k in GOAL_KEYS if k in obs], axis=-1)
    return np.asarray(obs, np.float32)


class FlattenGoalObservation(gym.ObservationWrapper):
    """Goal-conditioned mazes: the goal becomes part of one flat state vector."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        spaces = env.observation_space.spaces
        size = sum(spaces[k].shape[0] for k in GOAL_KEYS if k in spaces)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def observation(self, observation) -> np.ndarray:
        return flatten_observation(observation)


class Float32Observation(gym.ObservationWrapper):
    """float32 observations (MuJoCo returns float64); bounds cast without gymnasium's warning."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                                                space.shape, np.float32)

    def observation(self, observation) -> np.ndarray:
        return np.asarray(observation, np.float32)


class DelayedReward(gym.Wrapper):
    """Rewards summed and paid every `every` steps and at episode end (0 otherwise).

    The undelayed reward is kept in info['single_reward'].
    """

    def __init__(self, env: gym.Env, every: int):
        super().__init__(env)
        if every < 2:
            raise ValueError(f"delayed_reward must be >= 2, got {every}")
        self.every = every
        self._steps, self._pending = 0, 0.0

    def reset(self, **kwargs):
        self._steps, self._pending = 0, 0.0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        self._pending += float(reward)
        info = dict(info, single_reward=float(reward))
        if self._steps % self.every == 0 or terminated or truncated:
            paid, self._pending = self._pending, 0.0
        else:
            paid = 0.0
        return obs, paid, terminated, truncated, info
