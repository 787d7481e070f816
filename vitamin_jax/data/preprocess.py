"""Offline preprocessing, in the original's order (docs/design.md#preprocessing).

`offline_data` first gives Minari's data the task D4RL scored (`vitamin_jax.data.relabel`:
maze rewards, ends and states from the fixed goal; Adroit rewards with D4RL's sign), then:

1. for AntMaze, removal of one-step trajectories beyond the first 9; then the dataset's
   reward transform `DatasetSpec.wrap_reward` (hammer / 1000; pen, door, relocate / 100;
   AntMaze - 1), the same function the environment wrapper applies online;
2. optional delayed-reward transform (sums paid every M steps and at the last step);
3. state mean / std over all remaining states (population std + 1e-6);
4. the inherited ODT selection, which drops the single lowest-return trajectory and returns
   the rest in ascending return order (the replay buffer then keeps the top `replay_size`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import numpy as np

from vitamin_jax import envs
from vitamin_jax.data.generate import generate_if_missing
from vitamin_jax.data.loading import load_from_config
from vitamin_jax.data.relabel import apply as d4rl_task
from vitamin_jax.data.replay import as_trajectory, trajectory_return
from vitamin_jax.data.validation import check_finite, check_matches_env
from vitamin_jax.envs.options import env_options

STD_EPS = 1e-6
TRIVIAL_KEEP = 9  # the original's counter keeps the first 9 one-step trajectories (count >= 10 skips)


def remove_trivial_trajectories(trajectories: Sequence[dict], keep: int = TRIVIAL_KEEP) -> list[dict]:
    """Drop one-step trajectories except the first `keep` (AntMaze goal-region fragments)."""
    out, seen = [], 0
    for t in trajectories:
        if len(t["rewards"]) == 1:
            seen += 1
            if seen > keep:
                continue
        out.append(t)
    return out


def wrap_rewards(trajectories: Sequence[dict], wrap_reward: Callable) -> list[dict]:
    """The dataset's reward transform (`DatasetSpec.wrap_reward`: hammer / 1000; pen, door,
    relocate / 100; AntMaze - 1), the same function the environment wrapper applies."""
    return [{**t, "rewards": np.asarray(wrap_reward(np.asarray(t["rewards"], np.float32)), np.float32)}
            for t in trajectories]


def delay_rewards(trajectories: Sequence[dict], every: int) -> list[dict]:
    """Delayed reward: rewards summed and paid at steps j with j % every == every - 1 and at the end.

    Returns are unchanged, so the return-based selection does not depend on the delay.
    """
    if every <= 1:
        return list(trajectories)
    out = []
    for t in trajectories:
        r = np.asarray(t["rewards"], np.float64)
        n = len(r)
        pay = (np.arange(n) % every == every - 1)
        pay[-1] = True
        csum = np.cumsum(r)
        paid_at = np.flatnonzero(pay)
        delayed = np.zeros(n)
        delayed[paid_at] = np.diff(np.concatenate([[0.0], csum[paid_at]]))
        out.append({**t, "rewards": delayed.astype(np.float32)})
    return out


def state_statistics(trajectories: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and population std (+1e-6) over all dataset observations."""
    states = np.concatenate([np.asarray(t["observations"], np.float64) for t in trajectories], axis=0)
    return states.mean(axis=0).astype(np.float32), (states.std(axis=0) + STD_EPS).astype(np.float32)


def drop_lowest_return(trajectories: Sequence[dict]) -> list[dict]:
    """The ODT selection loop: ascending return order, minus the single lowest-return trajectory.

    The original adds trajectories from the best down while the total length stays strictly
    below the dataset size, which always stops one short. Ties keep dataset order (stable sort).
    """
    order = np.argsort([trajectory_return(t) for t in trajectories], kind="stable")
    if len(order) > 1:
        order = order[1:]
    return [trajectories[i] for i in order]


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """Counts and return / length statistics of a trajectory list (printed at load)."""

    num_trajectories: int
    num_transitions: int
    return_mean: float
    return_min: float
    return_max: float
    length_min: int
    length_mean: float
    length_max: int

    def __str__(self) -> str:
        return (f"{self.num_trajectories} trajectories, {self.num_transitions} transitions, "
                f"return mean {self.return_mean:.4g} min {self.return_min:.4g} max {self.return_max:.4g}, "
                f"length min {self.length_min} mean {self.length_mean:.1f} max {self.length_max}")


def summarize(trajectories: Sequence[dict]) -> DatasetSummary:
    returns = np.array([trajectory_return(t) for t in trajectories])
    lengths = np.array([len(t["rewards"]) for t in trajectories])
    return DatasetSummary(len(trajectories), int(lengths.sum()), float(returns.mean()), float(returns.min()),
                          float(returns.max()), int(lengths.min()), float(lengths.mean()), int(lengths.max()))


@dataclasses.dataclass(frozen=True)
class OfflineData:
    """What training needs from the offline dataset.

    trajectories: ascending return order, lowest-return one dropped (pretraining samples these;
    `ReplayBuffer(replay_size, trajectories)` keeps the top `replay_size`).
    """

    trajectories: list
    state_mean: np.ndarray
    state_std: np.ndarray
    summary: DatasetSummary  # of `trajectories`, after all preprocessing
    loaded_summary: DatasetSummary  # as loaded, before any preprocessing
    source: str  # where the data came from (for logs)


def preprocess_trajectories(trajectories: Sequence[dict], *, wrap_reward: Optional[Callable] = None,
                            remove_trivial_trajs: bool = False, delayed_reward: int = 0,
                            source: str = "") -> OfflineData:
    """Apply the steps of the module docstring to loaded trajectories.

    `wrap_reward` is the dataset's `DatasetSpec.wrap_reward` (None: rewards unchanged).
    `remove_trivial_trajs` is meant for AntMaze only (the caller decides, as the original).
    """
    if not trajectories:
        raise ValueError("the dataset holds no trajectories")
    trajs = [as_trajectory(t) for t in trajectories]
    loaded = summarize(trajs)
    if remove_trivial_trajs:  # counts steps only, so it commutes with the reward transform
        trajs = remove_trivial_trajectories(trajs)
    if wrap_reward is not None:
        trajs = wrap_rewards(trajs, wrap_reward)
    trajs = delay_rewards(trajs, int(delayed_reward))
    state_mean, state_std = state_statistics(trajs)
    trajs = drop_lowest_return(trajs)
    return OfflineData(trajs, state_mean, state_std, summarize(trajs), loaded, source)


def preprocess_as_configured(trajectories: Sequence[dict], spec: Any, config: Any, source: str) -> OfflineData:
    """`preprocess_trajectories` with the dataset's reward transform and the config's options.

    The one-step filter applies where the dataset's `removes_trivial_trajs` allows it (AntMaze,
    as the original) and `config.dataset.remove_trivial_trajs` asks for it.
    """
    return preprocess_trajectories(
        trajectories, wrap_reward=spec.wrap_reward,
        remove_trivial_trajs=bool(config.dataset.remove_trivial_trajs) and spec.removes_trivial_trajs,
        delayed_reward=int(config.dataset.delayed_reward), source=source,
    )


def offline_data(config: Any, spec: Optional[Any] = None, *, verbose: bool = True) -> OfflineData:
    """Load the configured dataset, preprocess it and print a two-line summary.

    Raises `vitamin_jax.data.loading.DatasetError` when the data is missing or unreadable.
    """
    spec = spec if spec is not None else envs.get_spec(config.env_name)
    generate_if_missing(config, spec)
    loaded = load_from_config(config, spec)
    trajectories, notes = d4rl_task(loaded, spec, config)  # D4RL's maze rewards, ends and states; Adroit rewards
    check_finite(trajectories, f"{spec.name} ({loaded.source})")
    check_matches_env(trajectories, spec, f"{spec.name} ({loaded.source})", env_kwargs=env_options(config))
    data = preprocess_as_configured(trajectories, spec, config, loaded.source)
    if verbose:
        print(f"dataset {spec.name} from {loaded.source}: {data.loaded_summary}")
        for note in notes:
            print(f"  {note}")
        print(f"  after preprocessing (lowest-return trajectory dropped): {data.summary}")
    return data
