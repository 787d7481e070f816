"""Building the environment of a dataset: gymnasium.make plus D4RL's task and the training wrappers."""

from __future__ import annotations

import functools
import warnings
from typing import Optional

import gymnasium as gym
import numpy as np

from vitamin_jax.envs.registry import GOAL_RADIUS, DatasetSpec, get_spec
from vitamin_jax.envs.wrappers import (
    AffineReward,
    D4RLAdroitReward,
    D4RLMazeGoal,
    D4RLMazeObservation,
    DelayedReward,
    FlattenGoalObservation,
    Float32Observation,
    PenDropTermination,
    SeedFirstReset,
    ZeroPadObservation,
)
from vitamin_jax.schema import MAZE_LAYOUTS

# The autoreset mode of make_vector_env; the rollout worker relies on it.
AUTORESET_MODE = gym.vector.AutoresetMode.NEXT_STEP


@functools.cache
def _route_mujoco_warnings() -> None:
    """Send MuJoCo's C-level warnings through Python's `warnings`, once per message.

    By default MuJoCo prints them on every model load (HalfCheetah-v5 triggers one per
    environment) and appends them to MUJOCO_LOG.TXT in the working directory. The
    'settotalmass' deprecation comes from gymnasium's own model files, on every MuJoCo run,
    and is nothing a user can act on: it is dropped. Installed by the first MuJoCo make_env
    (cached: once per process), not at import, so importing vitamin_jax.envs sets no global hook.
    """
    # mujoco loads the MUJOCO_GL backend when imported: here, inside make_env, a missing one fails
    # where vitamin_jax.evaluate.check_video catches it (its import of envs must not fail).
    import mujoco

    seen: set = set()

    def on_warning(message: str) -> None:
        if "settotalmass" in message:
            return
        if message not in seen:
            seen.add(message)
            warnings.warn(f"MuJoCo: {message.strip()}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(on_warning)


def _register_robotics() -> None:
    """Import gymnasium-robotics only for the envs that need it (`needs_gymnasium_robotics`; its import registers them).

    On import it prints a notice to stderr that door/hammer/relocate v1 dense rewards changed in
    1.2.1; D4RLAdroitReward undoes that change, so the notice is expected and left visible.
    """
    if "AdroitHandPen-v1" not in gym.registry:
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)


def _adroit_reward_differs_from_d4rl(spec: DatasetSpec) -> bool:
    """gymnasium-robotics >= 1.2.1 flips the hand-to-object sign in these v1 dense rewards."""
    if spec.hand_to_object_task is None or not spec.env_id.endswith("-v1"):
        return False
    import gymnasium_robotics

    version = tuple(int(p) for p in gymnasium_robotics.__version__.split(".")[:3] if p.isdigit())
    return version >= (1, 2, 1)


def make_env(name: str, seed: Optional[int] = None, delayed_reward: int = 0, *, raw: bool = False,
             d4rl_adroit_reward: bool = True, d4rl_goal: bool = True, pen_termination: bool = True,
             observation_layout: str = "d4rl", legacy_env: bool = False,
             render_mode: Optional[str] = None) -> gym.Env:
    """The environment of dataset `name`, with D4RL's time limit.

    raw=False (training and evaluation): delayed reward when `delayed_reward` > 1 (innermost,
    as the original, so the per-family constants apply to the paid sum), then r / divisor +
    shift, then flat float32 observations. Mazes: `observation_layout` 'd4rl' gives D4RL's
    state (maze2d 4, antmaze 29 dims, no goal), 'goal' concat(observation, achieved_goal,
    desired_goal). raw=True: the bare env (dict observations, rewards in the env's units) for
    dataset generation. In both, D4RL's task unless switched off: door/hammer/relocate rewards
    with D4RL's sign (`d4rl_adroit_reward`), the mazes' one fixed goal and 0.5 radius
    (`d4rl_goal`; AntMaze ends there), pen episodes ending at a drop (`pen_termination`).
    `legacy_env=True` builds the registry's `legacy_env` instead (ant: Ant-v4 and 84 zero
    contact forces, D4RL's 111 dims), for D4RL's own files (`vitamin_jax.envs.options.env_options`).

    `render_mode='rgb_array'` makes the env renderable (videos of `python -m vitamin_jax.evaluate`).

    Seeding: with `seed`, the action and observation spaces are seeded and (raw=False) the
    first reset uses `seed` when the caller passes none (SeedFirstReset); later resets, and
    every reset of a raw env, are the caller's to seed.
    """
    spec = get_spec(name)
    if observation_layout not in MAZE_LAYOUTS:
        raise ValueError(f"observation_layout must be one of {MAZE_LAYOUTS}, got {observation_layout!r}")
    env = _gymnasium_env(spec, name, legacy_env, render_mode)
    env = _d4rl_task(env, spec, adroit_reward=d4rl_adroit_reward, goal=d4rl_goal, pen_drop=pen_termination)
    if not raw:
        env = _delayed_reward(env, delayed_reward)
        env = _reward_constants(env, spec)
        env = _flat_observation(env, spec, observation_layout)
    return _seeded(env, seed, raw)


def _gymnasium_env(spec: DatasetSpec, name: str, legacy_env: bool, render_mode: Optional[str]) -> gym.Env:
    """gymnasium.make of the spec's env (or its `legacy_env`, zero-padded as D4RL's files), with D4RL's time limit."""
    if spec.uses_mujoco:
        _route_mujoco_warnings()
    if spec.needs_gymnasium_robotics:
        _register_robotics()
    env_id, kwargs = spec.env_id, dict(spec.env_kwargs)
    if legacy_env:
        if spec.legacy_env is None:
            raise ValueError(f"dataset {name!r} has no legacy environment version in the registry")
        env_id, kwargs = spec.legacy_env.env_id, dict(spec.legacy_env.env_kwargs)
    if "maze_map" in kwargs:  # lists, as gymnasium-robotics documents and Minari records them
        kwargs["maze_map"] = [list(row) for row in kwargs["maze_map"]]
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    with warnings.catch_warnings():
        # AntMaze v4 is deliberate: its 27-dim ant observation is what D4RL and Minari's
        # D4RL/antmaze data have (v5 adds contact forces); gymnasium warns v4 is out of date.
        # The legacy Ant-v4 likewise: it gives D4RL's 111-dim observation.
        warnings.filterwarnings("ignore", message=r".*Ant(Maze_\w+)?-v4 is out of date", category=DeprecationWarning)
        env = gym.make(env_id, max_episode_steps=spec.max_episode_steps, **kwargs)
    if legacy_env and spec.legacy_env.zero_dims:
        env = ZeroPadObservation(env, spec.legacy_env.zero_dims)
    return env


def _d4rl_task(env: gym.Env, spec: DatasetSpec, *, adroit_reward: bool, goal: bool, pen_drop: bool) -> gym.Env:
    """D4RL's task where gymnasium's differs, each step switchable (raw envs get it too)."""
    if adroit_reward and _adroit_reward_differs_from_d4rl(spec):
        env = D4RLAdroitReward(env)
    if pen_drop and spec.ends_at_pen_drop:
        env = PenDropTermination(env)
    if goal and spec.is_goal_conditioned:
        env = D4RLMazeGoal(env, spec.goal_xy, GOAL_RADIUS, terminate=spec.ends_at_goal)
    return env


def _delayed_reward(env: gym.Env, every: int) -> gym.Env:
    """Innermost of the training wrappers, as the original: the reward constants apply to the paid sum."""
    return DelayedReward(env, every) if every and every > 1 else env


def _reward_constants(env: gym.Env, spec: DatasetSpec) -> gym.Env:
    """r / divisor + shift (`DatasetSpec.wrap_reward`), the transform the dataset's rewards get."""
    if spec.reward_divisor != 1.0 or spec.reward_shift != 0.0:
        env = gym.wrappers.TransformReward(env, AffineReward(spec))
    return env


def _flat_observation(env: gym.Env, spec: DatasetSpec, layout: str) -> gym.Env:
    """Flat float32 states; mazes in `layout` ('d4rl': D4RL's state, 'goal': goal appended)."""
    if spec.is_goal_conditioned and layout == "d4rl":
        return D4RLMazeObservation(env, spec.d4rl_state_keys)
    if spec.is_goal_conditioned:
        return FlattenGoalObservation(env)
    if env.observation_space.dtype != np.float32:
        return Float32Observation(env)
    return env


def _seeded(env: gym.Env, seed: Optional[int], raw: bool) -> gym.Env:
    """With `seed`: seeded spaces and (not raw) a first reset with `seed` (SeedFirstReset)."""
    if seed is not None:
        if not raw:  # raw stays bare: DataCollector records the wrapper stack and resets with its own seed
            env = SeedFirstReset(env, seed)
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def make_vector_env(name: str, num_envs: int, seed: int, delayed_reward: int = 0) -> gym.vector.VectorEnv:
    """SyncVectorEnv of make_env(name, seed + i), autoreset mode NEXT_STEP (AUTORESET_MODE).

    NEXT_STEP: the step after an episode ends only resets that sub-env (its action is ignored,
    reward 0, terminated/truncated False) and returns the new episode's first observation. A
    plain `reset()` starts episode i with seed + i.
    """
    fns = [lambda i=i: make_env(name, seed + i, delayed_reward) for i in range(num_envs)]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=AUTORESET_MODE)
