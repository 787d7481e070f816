"""Host-side rollouts: N environments stepped in lockstep with one jitted action function.

Used for online data collection (exploration on) and evaluation (mean action, no noise,
no dropout). Every call resets all N environments with seeds derived from the caller's
seed, runs one episode per environment, and returns the finished episodes as trajectories
(hindsight RTG relabelling happens later, from the rewards stored here). Seeding every call
makes a resumed run collect exactly the episodes an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Optional, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from vitamin_jax import distributions
from vitamin_jax.envs import AUTORESET_MODE
from vitamin_jax.constants import ACTION_LIMIT, MAX_TIMESTEP
from vitamin_jax.networks import DecisionTransformer
from vitamin_jax.timing import Timings


def episode_seed(entropy: Sequence[int]) -> int:
    """A well-mixed 32-bit environment seed from a sequence of non-negative integers."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0])


@dataclasses.dataclass
class RolloutResult:
    """One episode per environment; returns/lengths in the wrapped reward units."""

    trajectories: list[dict]
    returns: np.ndarray  # [N] wrapped returns (after reward division / shift)
    raw_returns: np.ndarray  # [N] returns in the environment's own units (for D4RL scores)
    lengths: np.ndarray  # [N]

    @property
    def num_transitions(self) -> int:
        return int(self.lengths.sum())


def select_action(
    actor: DecisionTransformer,
    params,
    states: jax.Array,
    actions: jax.Array,
    rtg: jax.Array,
    timesteps: jax.Array,
    mask: jax.Array,
    key: jax.Array,
    *,
    explore: bool,
    expl_noise: float,
) -> jax.Array:
    """Action [N, A] at the last position of left-padded windows [N, K, ...].

    explore=False: the mean action. explore=True: a sample (stochastic actor) or the mean
    plus N(0, expl_noise) (deterministic actor). Always clipped to +-(1 - 1e-6).
    """
    out = actor.apply(params, states, actions, rtg, timesteps, mask, deterministic=True)
    action = out.action[:, -1]
    if explore and actor.stochastic:
        action, _ = distributions.sample(key, out.mu[:, -1], out.log_std[:, -1])
    elif explore:
        action = jnp.clip(action, -ACTION_LIMIT, ACTION_LIMIT)
        action = action + expl_noise * jax.random.normal(key, action.shape, action.dtype)
    return jnp.clip(action, -ACTION_LIMIT, ACTION_LIMIT)


class ContextWindows:
    """The last L steps of each environment's history, left-padded with zeros to K."""

    def __init__(self, num_envs: int, context_len: int, keep: int, state_dim: int, act_dim: int):
        if not 1 <= keep <= context_len:
            raise ValueError(f"eval_context_length must be in [1, K={context_len}], got {keep}")
        self.k, self.keep = context_len, keep
        self.states = np.zeros((num_envs, context_len, state_dim), np.float32)
        self.actions = np.zeros((num_envs, context_len, act_dim), np.float32)
        self.rtg = np.zeros((num_envs, context_len), np.float32)
        self.timesteps = np.zeros((num_envs, context_len), np.int32)
        self.steps = 0

    def push(self, states: np.ndarray, rtg: np.ndarray, timestep: int) -> None:
        """Append step t with a zero placeholder action (filled by `set_last_action`)."""
        for array in (self.states, self.actions, self.rtg, self.timesteps):
            array[:, :-1] = array[:, 1:]
        self.states[:, -1], self.actions[:, -1], self.rtg[:, -1] = states, 0.0, rtg
        self.timesteps[:, -1] = min(timestep, MAX_TIMESTEP)
        self.steps += 1
        # Steps older than the kept context are zeroed, as the original's left padding.
        visible = min(self.steps, self.keep)
        for array in (self.states, self.actions, self.rtg, self.timesteps):
            array[:, : self.k - visible] = 0

    def set_last_action(self, actions: np.ndarray) -> None:
        self.actions[:, -1] = actions

    @property
    def mask(self) -> np.ndarray:
        visible = min(self.steps, self.keep)
        mask = np.zeros(self.rtg.shape, np.float32)
        mask[:, self.k - visible:] = 1.0
        return mask


class RolloutWorker:
    """Runs one episode in each of N environments per seed with the current actor parameters.

    With `num_seeds` S > 1 the worker steps S x N environments in lockstep and selects all
    actions with one call vmapped over the seeds' parameters (params with a leading [S]).
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int,
        actor: DecisionTransformer,
        *,
        context_len: int,
        eval_context_length: int,
        state_mean: np.ndarray,
        state_std: np.ndarray,
        reward_scale: float,
        raw_reward: Callable[[np.ndarray], np.ndarray],
        max_episode_steps: int,
        explore: bool,
        expl_noise: float = 0.1,
        truncation: str = "terminal",
        num_seeds: int = 1,
        timings: Optional[Timings] = None,
    ):
        """timings: where env stepping and action selection seconds (and env steps) are summed."""
        self.timings = timings if timings is not None else Timings()
        self.envs = gym.vector.SyncVectorEnv(
            [make_env for _ in range(num_seeds * num_envs)], autoreset_mode=AUTORESET_MODE
        )
        self.num_envs, self.num_seeds = num_envs, num_seeds
        self.actor = actor
        self.context_len, self.eval_context_length = context_len, eval_context_length
        self.state_mean = np.asarray(state_mean, np.float32)
        self.state_std = np.asarray(state_std, np.float32)
        self.reward_scale = reward_scale
        self.raw_reward = raw_reward
        self.max_episode_steps = max_episode_steps
        self.truncation = truncation
        act = functools.partial(select_action, actor, explore=explore, expl_noise=expl_noise)
        self.act = jax.jit(jax.vmap(act))  # over seeds: params [S], windows [S, N, ...], keys [S]

    def close(self) -> None:
        self.envs.close()

    def run(self, params, target_return: float, seed: Sequence[int], key: jax.Array) -> RolloutResult:
        """One episode per environment for one seed's (unstacked) parameters."""
        params = jax.tree.map(lambda x: x[None], params)
        return self.run_seeds(params, target_return, [seed], key[None])[0]

    def run_seeds(self, params, target_return: float, seeds: Sequence[Sequence[int]],
                  keys: jax.Array) -> list[RolloutResult]:
        """One episode per environment and seed, conditioned on `target_return` (wrapped units).

        params and keys have a leading [S]. `seeds[s]` is a sequence of integers (run seed,
        purpose, iteration, call); env i of seed s resets with SeedSequence(seeds[s] + [i]), so
        episodes are a pure function of the run's seed and the loop position.
        """
        s_count, n = self.num_seeds, self.num_envs
        total = s_count * n
        timings = self.timings
        with timings.section("rollout_env"):
            obs, _ = self.envs.reset(seed=[episode_seed(list(seeds[s]) + [i]) for s in range(s_count)
                                           for i in range(n)])
        act_dim = self.envs.single_action_space.shape[0]
        windows = ContextWindows(total, self.context_len, self.eval_context_length, obs.shape[-1], act_dim)
        rtg = np.full(total, target_return * self.reward_scale, np.float32)
        active = np.ones(total, bool)
        history = {k: [] for k in ("observations", "actions", "rewards", "raw_rewards", "next_observations",
                                   "terminated", "truncated")}
        ends = {}
        per_seed = lambda x: x.reshape((s_count, n) + x.shape[1:])
        split = jax.jit(jax.vmap(jax.random.split))
        for t in range(self.max_episode_steps):
            windows.push((obs - self.state_mean) / self.state_std, rtg, t)
            with timings.section("rollout_act"):
                both = split(keys)
                keys, step_keys = both[:, 0], both[:, 1]
                action = np.asarray(self.act(params, per_seed(windows.states), per_seed(windows.actions),
                                             per_seed(windows.rtg), per_seed(windows.timesteps),
                                             per_seed(windows.mask), step_keys)).reshape(total, act_dim)
            windows.set_last_action(action)
            with timings.section("rollout_env"):
                next_obs, reward, terminated, truncated, _ = self.envs.step(action)
            timings.count("env_steps", int(active.sum()))
            reward = np.where(active, reward, 0.0).astype(np.float32)
            for name, value in (("observations", obs), ("actions", action), ("rewards", reward),
                                ("raw_rewards", self.raw_reward(reward)), ("next_observations", next_obs),
                                ("terminated", terminated), ("truncated", truncated)):
                history[name].append(np.asarray(value).copy())
            rtg = rtg - reward * self.reward_scale
            if t == self.max_episode_steps - 1:
                truncated = np.ones(total, bool)
            done_now = active & (terminated | truncated)
            for i in np.flatnonzero(done_now):
                ends[i] = t + 1
            active &= ~done_now
            if not active.any():
                break
            obs = next_obs
        stacked = {k: np.stack(v, axis=1) for k, v in history.items()}  # [S*N, T, ...]
        return [self._to_result(stacked, ends, range(s * n, (s + 1) * n)) for s in range(s_count)]

    def _to_result(self, stacked: dict, ends: dict, env_indices) -> RolloutResult:
        trajectories, returns, raw_returns, lengths = [], [], [], []
        for i in env_indices:
            length = ends[i]
            terminals = np.zeros(length, np.float32)
            timeouts = np.zeros(length, np.float32)
            if self.truncation == "terminal":
                terminals[-1] = 1.0  # the original marks every online episode end terminal
            else:
                terminals[-1] = float(stacked["terminated"][i, length - 1])
                timeouts[-1] = 1.0 - terminals[-1]
            trajectories.append({
                "observations": stacked["observations"][i, :length].astype(np.float32),
                "actions": stacked["actions"][i, :length].astype(np.float32),
                "rewards": stacked["rewards"][i, :length].astype(np.float32),
                "next_observations": stacked["next_observations"][i, :length].astype(np.float32),
                "terminals": terminals,
                "timeouts": timeouts,
            })
            returns.append(stacked["rewards"][i, :length].sum())
            raw_returns.append(stacked["raw_rewards"][i, :length].sum())
            lengths.append(length)
        return RolloutResult(trajectories, np.array(returns), np.array(raw_returns), np.array(lengths))
