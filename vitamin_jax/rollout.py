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
from typing import Callable, NamedTuple, Optional, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vitamin_jax import distributions, envs
from vitamin_jax.constants import ACTION_LIMIT, MAX_TIMESTEP
from vitamin_jax.envs import AUTORESET_MODE
from vitamin_jax.envs.options import env_options
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
    explore,
    expl_noise,
) -> jax.Array:
    """Action [N, A] at the last position of left-padded windows [N, K, ...].

    explore=False: the mean action. explore=True: a sample (stochastic actor) or the mean
    plus N(0, expl_noise) (deterministic actor). Always clipped to +-(1 - 1e-6). `explore`
    and `expl_noise` may be traced, so collection and evaluation share one compiled program.
    """
    out = actor.apply(params, states, actions, rtg, timesteps, mask, deterministic=True)
    mean = out.action[:, -1]
    if actor.stochastic:
        explored, _ = distributions.sample(key, out.mu[:, -1], out.log_std[:, -1])
    else:
        explored = jnp.clip(mean, -ACTION_LIMIT, ACTION_LIMIT)
        explored = explored + expl_noise * jax.random.normal(key, mean.shape, mean.dtype)
    return jnp.clip(jnp.where(explore, explored, mean), -ACTION_LIMIT, ACTION_LIMIT)


class DeviceWindows(NamedTuple):
    """ContextWindows' arrays on the device, for one seed: [N, K, ...]."""

    states: jax.Array
    actions: jax.Array
    rtg: jax.Array
    timesteps: jax.Array

    @classmethod
    def zeros(cls, leading: tuple, context_len: int, state_dim: int, act_dim: int) -> "DeviceWindows":
        shape = leading + (context_len,)
        return cls(np.zeros(shape + (state_dim,), np.float32), np.zeros(shape + (act_dim,), np.float32),
                   np.zeros(shape, np.float32), np.zeros(shape, np.int32))


@functools.lru_cache(maxsize=None)
def action_step(actor: DecisionTransformer, keep: int):
    """The one compiled program of a lockstep step, shared by every worker of `actor`.

    (params [S], windows [S, N, K, ...], states [S, N, D], rtg [S, N], t, keys [S], explore,
    expl_noise) -> (windows, keys, actions [S, N, A]): pushes step t into the windows exactly as
    ContextWindows.push does (older than `keep` steps zeroed), splits each seed's key, selects
    the action and writes it into the window. Only the new state and RTG go to the device and
    only the action comes back; t, explore and the noise are traced, so nothing recompiles
    between calls, steps, or evaluation and collection of the same shape.
    """

    def one_seed(params, windows: DeviceWindows, states, rtg, t, key, explore, expl_noise):
        k = windows.states.shape[1]
        visible = jnp.arange(k) >= k - jnp.minimum(t + 1, keep)
        shifted = []
        for old, new in zip(windows, (states, jnp.zeros_like(windows.actions[:, -1]), rtg,
                                      jnp.full(rtg.shape, jnp.minimum(t, MAX_TIMESTEP), jnp.int32))):
            window = jnp.concatenate([old[:, 1:], new[:, None]], axis=1)
            where = visible.reshape((1, k) + (1,) * (window.ndim - 2))
            shifted.append(jnp.where(where, window, jnp.zeros((), window.dtype)))
        windows = DeviceWindows(*shifted)
        mask = jnp.broadcast_to(visible.astype(jnp.float32), rtg.shape + (k,))
        key, step_key = jax.random.split(key)
        action = select_action(actor, params, *windows, mask, step_key, explore=explore, expl_noise=expl_noise)
        return windows._replace(actions=windows.actions.at[:, -1].set(action)), key, action

    return jax.jit(jax.vmap(one_seed, in_axes=(0, 0, 0, 0, None, 0, None, None)), donate_argnums=(1,))


def _check_kept_context(keep: int, context_len: int) -> None:
    if not 1 <= keep <= context_len:
        raise ValueError(f"eval_context_length must be in [1, K={context_len}], got {keep}")


class ContextWindows:
    """The last L steps of each environment's history, left-padded with zeros to K."""

    def __init__(self, num_envs: int, context_len: int, keep: int, state_dim: int, act_dim: int):
        _check_kept_context(keep, context_len)
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
        _check_kept_context(eval_context_length, context_len)
        self.explore, self.expl_noise = explore, expl_noise
        self.act = action_step(actor, eval_context_length)  # shared with every worker of this actor


    @classmethod
    def from_config(cls, config: ml_collections.ConfigDict, actor: DecisionTransformer, num_envs: int, *,
                    state_mean: np.ndarray, state_std: np.ndarray, explore: bool,
                    make_env: Optional[Callable[[], gym.Env]] = None,
                    timings: Optional[Timings] = None) -> "RolloutWorker":
        """The worker a run's config describes: the loop's collection and evaluation, `vitamin_jax.evaluate`."""
        c = config
        spec = envs.get_spec(c.env_name)
        if make_env is None:
            make_env = lambda: envs.make_env(c.env_name, delayed_reward=c.dataset.delayed_reward, **env_options(c))
        return cls(make_env, num_envs, actor, context_len=c.model.context_len,
                   eval_context_length=c.model.eval_context_length, state_mean=state_mean, state_std=state_std,
                   reward_scale=c.online.reward_scale, raw_reward=spec.unwrap_reward,
                   max_episode_steps=spec.max_episode_steps, explore=explore, expl_noise=c.online.expl_noise,
                   truncation=c.online.truncation, num_seeds=c.num_seeds, timings=timings)
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
        # device arrays from the start: the compiled call sees one argument signature every step
        windows = jax.device_put(DeviceWindows.zeros((s_count, n), self.context_len, obs.shape[-1], act_dim))
        keys = jax.device_put(keys)
        rtg = np.full(total, target_return * self.reward_scale, np.float32)
        active = np.ones(total, bool)
        history = {k: [] for k in ("observations", "actions", "rewards", "raw_rewards", "next_observations",
                                   "terminated", "truncated")}
        ends = {}
        per_seed = lambda x: x.reshape((s_count, n) + x.shape[1:])
        for t in range(self.max_episode_steps):
            states = ((obs - self.state_mean) / self.state_std).astype(np.float32)
            with timings.section("rollout_act"):
                windows, keys, action = self.act(params, windows, per_seed(states), per_seed(rtg), t, keys,
                                                 self.explore, self.expl_noise)
                action = np.asarray(action).reshape(total, act_dim)
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
