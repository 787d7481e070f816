"""Environment wrappers: delayed reward, reward constants, flat goal observations, seeding."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

import gymnasium as gym
import numpy as np

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def flatten_observation(obs: Any) -> np.ndarray:
    """Dict observation -> concat(observation, achieved_goal, desired_goal) on the last axis.

    The fixed order makes dataset states (Minari dicts) and environment states line up. Works
    on one observation or a batch (a vector env's dict of [N, d] arrays); arrays pass through
    as float32.
    """
    if isinstance(obs, Mapping):
        missing = [k for k in GOAL_KEYS if k not in obs]
        if missing:
            raise KeyError(f"goal observation lacks {missing}; has {sorted(obs)}")
        return np.concatenate([np.asarray(obs[k], np.float32) for k in GOAL_KEYS], axis=-1)
    return np.asarray(obs, np.float32)


class FlattenGoalObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Goal-conditioned mazes: the goal becomes part of one flat float32 state vector."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        spaces = env.observation_space.spaces
        low = np.concatenate([np.broadcast_to(spaces[k].low, spaces[k].shape) for k in GOAL_KEYS])
        high = np.concatenate([np.broadcast_to(spaces[k].high, spaces[k].shape) for k in GOAL_KEYS])
        self.observation_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)

    def observation(self, observation) -> np.ndarray:
        return flatten_observation(observation)


class Float32Observation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """float32 observations (MuJoCo returns float64); bounds cast without gymnasium's warning."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                                                space.shape, np.float32)

    def observation(self, observation) -> np.ndarray:
        return np.asarray(observation, np.float32)


class DelayedReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Rewards summed and paid every `every` steps and at episode end (0 otherwise).

    Episode end is terminated or truncated, so it must sit outside the TimeLimit. The undelayed
    reward is kept in info['single_reward'].
    """

    def __init__(self, env: gym.Env, every: int):
        gym.utils.RecordConstructorArgs.__init__(self, every=every)
        gym.Wrapper.__init__(self, env)
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


@dataclasses.dataclass(frozen=True)
class AffineReward:
    """The dataset's `wrap_reward` (per-family divisor and shift) as a named callable, so it pickles."""

    spec: Any  # vitamin_jax.envs.registry.DatasetSpec

    def __call__(self, reward) -> float:
        return float(self.spec.wrap_reward(float(reward)))


class SeedFirstReset(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """The first reset uses `seed` unless the caller passes one; later resets are the caller's.

    So that `make_env(name, seed)` alone fixes the episodes, also inside a vector env whose
    reset passes no seed.
    """

    def __init__(self, env: gym.Env, seed: int):
        gym.utils.RecordConstructorArgs.__init__(self, seed=seed)
        gym.Wrapper.__init__(self, env)
        self._first_seed: Optional[int] = seed

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is None:
            seed = self._first_seed
        self._first_seed = None
        return self.env.reset(seed=seed, options=options)


class D4RLAdroitReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Restore D4RL's hand-to-object term, -0.1 |palm - object|, in door, hammer and relocate.

    gymnasium-robotics >= 1.2.1 computes +0.1 |palm - object| in these AdroitHand*-v1 dense
    rewards (see its start-up notice and Gymnasium-Robotics PR 220), so returns, and hence D4RL
    normalised scores, would drift from the reference scores' units. The rest of the reward is
    D4RL's. Pen is unaffected.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        u = self.env.unwrapped
        if hasattr(u, "handle_site_id"):  # door: palm to handle
            palm, obj = u.data.site_xpos[u.grasp_site_id], u.data.site_xpos[u.handle_site_id]
        else:  # hammer (the hammer body), relocate (the ball)
            palm, obj = u.data.site_xpos[u.S_grasp_site_id], u.data.xpos[u.obj_body_id]
        reward = float(reward) - 0.2 * float(np.linalg.norm(palm - obj))
        return obs, reward, terminated, truncated, info
