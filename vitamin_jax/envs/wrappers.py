"""Environment wrappers: delayed reward, reward constants, maze observations and goals, pen drops, seeding."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

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


def d4rl_maze_observation(obs: Mapping, state_keys: Sequence[str]) -> np.ndarray:
    """Dict observation -> D4RL's state: the `state_keys` parts (`DatasetSpec.d4rl_state_keys`) concatenated.

    maze2d: `observation` [.., 4]; antmaze: (achieved_goal, observation) [.., 29], since
    gymnasium-robotics splits the ant's qpos + qvel into achieved_goal (x, y) and observation
    (the other 27), so prepending the position restores D4RL's 29-dim ant vector.
    """
    if not state_keys:
        raise ValueError("no D4RL maze layout: the dataset has no d4rl_state_keys")
    return np.concatenate([np.asarray(obs[k], np.float32) for k in state_keys], axis=-1)


def state_vector(obs: Any, state_keys: Sequence[str], layout: str = "d4rl") -> np.ndarray:
    """One observation as the flat float32 state `make_env` gives (mazes: `layout`'s; others as they are)."""
    if isinstance(obs, Mapping) and layout == "d4rl" and state_keys:
        return d4rl_maze_observation(obs, state_keys)
    return flatten_observation(obs)


def goal_layout_to_d4rl(states: np.ndarray, state_keys: Sequence[str]) -> np.ndarray:
    """[.., d + 4] states in the 'goal' layout (observation, achieved, desired) -> D4RL's layout."""
    d = states.shape[-1] - 4
    return d4rl_maze_observation({"observation": states[..., :d], "achieved_goal": states[..., d:d + 2]}, state_keys)


class D4RLMazeObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Maze dict observations -> D4RL's flat float32 state (no goal; see `d4rl_maze_observation`)."""

    def __init__(self, env: gym.Env, state_keys: Sequence[str]):
        gym.utils.RecordConstructorArgs.__init__(self, state_keys=tuple(state_keys))
        gym.ObservationWrapper.__init__(self, env)
        self.state_keys = tuple(state_keys)
        spaces = env.observation_space.spaces
        bounds = {k: (np.broadcast_to(spaces[k].low, spaces[k].shape), np.broadcast_to(spaces[k].high, spaces[k].shape))
                  for k in ("observation", "achieved_goal")}
        low = d4rl_maze_observation({k: v[0] for k, v in bounds.items()}, self.state_keys)
        high = d4rl_maze_observation({k: v[1] for k, v in bounds.items()}, self.state_keys)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def observation(self, observation) -> np.ndarray:
        return d4rl_maze_observation(observation, self.state_keys)


class D4RLMazeGoal(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """D4RL's maze task in gymnasium-robotics: one fixed goal, reached within `radius` (0.5).

    gymnasium-robotics re-noises the goal on every reset (up to a quarter cell per axis) and
    counts it reached within 0.45. Here the goal is `goal_xy` after every reset, the sparse
    reward is 1 within `radius` of it after the step (as D4RL's maze2d and goal_reaching_env),
    and with `terminate` (AntMaze evaluation, as D4RL's) the episode ends there.
    info['success'] follows the same rule. Observations stay dicts; desired_goal is `goal_xy`.
    """

    def __init__(self, env: gym.Env, goal_xy, radius: float = 0.5, terminate: bool = False):
        gym.utils.RecordConstructorArgs.__init__(self, goal_xy=tuple(float(g) for g in goal_xy), radius=radius,
                                                 terminate=terminate)
        gym.Wrapper.__init__(self, env)
        self.goal_xy = np.asarray(goal_xy, np.float64)
        self.radius, self.terminate = float(radius), bool(terminate)

    def _reached(self, obs: Mapping) -> bool:
        return bool(np.linalg.norm(np.asarray(obs["achieved_goal"]) - self.goal_xy) <= self.radius)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        u = self.env.unwrapped
        u.goal = self.goal_xy.copy()
        u.update_target_site_pos()
        obs = {**obs, "desired_goal": self.goal_xy.copy()}
        return obs, {**info, "success": self._reached(obs)}

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        reached = self._reached(obs)
        terminated = bool(terminated) or (self.terminate and reached)
        return obs, float(reached), terminated, truncated, {**info, "success": reached}


class PenDropTermination(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """D4RL's pen_v0 ends the episode when the pen drops (object z < 0.075); gymnasium-robotics never does.

    Without it every step after a drop adds the -5 drop penalty (docs/faithfulness.md#adroit-environments-and-datasets).
    The reward is unchanged: both pay the -5 on the drop step.
    """

    DROP_HEIGHT = 0.075

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        u = self.env.unwrapped
        dropped = bool(u.data.xpos[u.obj_body_id][2] < self.DROP_HEIGHT)
        return obs, reward, bool(terminated) or dropped, truncated, info


class ZeroPadObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """`count` zeros appended to the observation: D4RL's Ant-v2 contact forces, all zero under mujoco 2.x."""

    def __init__(self, env: gym.Env, count: int):
        gym.utils.RecordConstructorArgs.__init__(self, count=count)
        gym.ObservationWrapper.__init__(self, env)
        self.count = int(count)
        space = env.observation_space
        pad = np.zeros(self.count, space.dtype)
        self.observation_space = gym.spaces.Box(np.concatenate([space.low, pad]), np.concatenate([space.high, pad]),
                                                dtype=space.dtype)

    def observation(self, observation) -> np.ndarray:
        return np.concatenate([observation, np.zeros(self.count, np.asarray(observation).dtype)])


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
