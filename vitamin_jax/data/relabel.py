"""The task D4RL scored, on Minari's data: maze rewards, ends and states from the one evaluation goal.

Minari's D4RL/pointmaze and D4RL/antmaze episodes were recorded against a goal drawn per
episode (pointmaze: cut at the first success; antmaze: fixed-length segments), with rewards
relative to that goal. D4RL's files, which the paper's runs used, pay against the one fixed
evaluation goal instead (docs/faithfulness.md#maze2d-environments,
docs/faithfulness.md#antmaze-trajectory-splitting). `apply` rebuilds D4RL's version on load:

- maze2d (D4RL's relabel_maze2d_rewards.py, sparse): reward_t = 1 where the step's own
  position is within 0.5 of the goal, every step (staying there keeps paying); no terminals;
  trajectories end at the recorded goal changes and at the time limit (timeouts only);
- antmaze (D4RL's relabel_antmaze_rewards.py, then the original's
  download_d4rl_antmaze_datasets.py): a goal row is one whose next position is within 0.5 of
  the goal; reward 1 there, 0 elsewhere; a trajectory ends after every goal row and at each
  recorded segment end, and every end is terminal (the original's dones). The -1 shift and the
  one-step filter follow in preprocessing, as in the original;
- both: D4RL's state layout (maze2d 4 dims, antmaze 29, no goal), or the goal-appended one.

Input trajectories are the loader's, whose maze states are concat(observation [d],
achieved_goal [2], desired_goal [2]) (the 'goal' layout). D4RL's own hdf5 files already are
D4RL's and pass through unchanged. Adroit rewards: vitamin_jax.data.adroit_rewards.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitamin_jax import envs
from vitamin_jax.data.adroit_rewards import to_d4rl_rewards
from vitamin_jax.data.replay import as_trajectory
from vitamin_jax.schema import check_enums

GOAL_LAYOUT_EXTRA = 4  # achieved_goal (2) + desired_goal (2) after the observation


def achieved_position(states: np.ndarray) -> np.ndarray:
    """[T, d + 4] goal-layout states -> the agent's (x, y) [T, 2] (the achieved goal)."""
    d = states.shape[-1] - GOAL_LAYOUT_EXTRA
    return np.asarray(states[..., d:d + 2], np.float64)


def with_goal(states: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
    """Goal-layout states with desired_goal set to the fixed goal (the one the relabelled rewards use)."""
    states = np.array(states, np.float32)
    states[..., -2:] = np.asarray(goal_xy, np.float32)
    return states


def within_goal(positions: np.ndarray, goal_xy: np.ndarray, radius: float) -> np.ndarray:
    """[T, 2] positions -> [T] bool: within `radius` of the goal (D4RL's `<=`)."""
    return np.linalg.norm(positions - np.asarray(goal_xy, np.float64), axis=-1) <= radius


def relabel_maze2d(trajectories: Sequence[dict], goal_xy: np.ndarray, radius: float,
                   max_episode_steps: int) -> list[dict]:
    """D4RL's maze2d data from goal-layout episodes: fixed-goal rewards, timeouts only, time-limit cuts.

    reward_t = 1[|pos(s_t) - goal| <= radius] uses the step's own state, as D4RL's relabelling
    script does (its environment pays on the next state). Each recorded episode is one goal
    segment (Minari cuts at the collection goal's success, D4RL's timeouts mark the collection
    goal's change); segments longer than `max_episode_steps` are cut there, as D4RL's collector
    set a new goal after that many steps. Every piece ends with timeouts 1, terminals 0. The
    states' desired_goal becomes the fixed goal (it only survives in the goal layout).
    """
    out = []
    for t in trajectories:
        rewards = within_goal(achieved_position(t["observations"]), goal_xy, radius).astype(np.float32)
        n = len(rewards)
        for start in range(0, n, max_episode_steps):
            stop = min(start + max_episode_steps, n)
            piece = {k: np.asarray(v)[start:stop] for k, v in t.items()}
            piece["observations"] = with_goal(piece["observations"], goal_xy)
            piece["next_observations"] = with_goal(piece["next_observations"], goal_xy)
            piece["rewards"] = rewards[start:stop]
            piece["terminals"] = np.zeros(stop - start, np.float32)
            piece["timeouts"] = np.zeros(stop - start, np.float32)
            piece["timeouts"][-1] = 1.0
            out.append(as_trajectory(piece))
    return out


def relabel_antmaze(trajectories: Sequence[dict], goal_xy: np.ndarray, radius: float) -> list[dict]:
    """The original's AntMaze trajectories from goal-layout segments: split after every goal row.

    Goal row t: |pos(s'_t) - goal| <= radius (D4RL relabels from the next state). Rewards are 1
    on goal rows, 0 elsewhere; a trajectory ends after each goal row (so rows that stay at the
    goal become one-step trajectories) and at the segment end. Every end is terminal, as the
    original's dones; timeouts 1 marks a segment end that is not a goal row. desired_goal
    becomes the fixed goal, as for maze2d.
    """
    out = []
    for t in trajectories:
        goal_rows = within_goal(achieved_position(t["next_observations"]), goal_xy, radius)
        n = len(goal_rows)
        stops = list(np.flatnonzero(goal_rows[:-1]) + 1) + [n]
        start = 0
        for stop in stops:
            piece = {k: np.asarray(v)[start:stop] for k, v in t.items()}
            piece["observations"] = with_goal(piece["observations"], goal_xy)
            piece["next_observations"] = with_goal(piece["next_observations"], goal_xy)
            piece["rewards"] = goal_rows[start:stop].astype(np.float32)
            piece["terminals"] = np.zeros(stop - start, np.float32)
            piece["terminals"][-1] = 1.0
            piece["timeouts"] = np.zeros(stop - start, np.float32)
            piece["timeouts"][-1] = float(not goal_rows[stop - 1])
            out.append(as_trajectory(piece))
            start = stop
    return out


def to_d4rl_layout(trajectories: Sequence[dict], state_keys: Sequence[str]) -> list[dict]:
    """Goal-layout states -> D4RL's (maze2d: x, y, vx, vy; antmaze: x, y, rest of qpos, qvel).

    `state_keys`: the spec's `d4rl_state_keys`.
    """
    return [as_trajectory({**t, "observations": envs.goal_layout_to_d4rl(np.asarray(t["observations"]), state_keys),
                           "next_observations": envs.goal_layout_to_d4rl(np.asarray(t["next_observations"]), state_keys)})
            for t in trajectories]


def is_goal_layout(trajectories: Sequence[dict], observation_dim: int) -> bool:
    """True if the states have the goal layout's size for a maze whose dict `observation` has
    `observation_dim` entries (`DatasetSpec.maze_observation_dim`; Minari's dict data)."""
    expected = observation_dim + GOAL_LAYOUT_EXTRA
    return observation_dim > 0 and np.asarray(trajectories[0]["observations"]).shape[-1] == expected


def apply(loaded: Any, spec: Any, config: Any) -> tuple[list[dict], list[str]]:
    """The loaded dataset as the preset sees it, and one-line notes of what was changed.

    Maze data read from Minari (`loaded.minari_id`) in the goal layout: relabelled
    (`config.dataset.maze_relabel`) and put into `config.dataset.observation_layout`. Adroit
    door/hammer/relocate from Minari: rewards checked against D4RL's and relabelled where they
    differ (`config.dataset.adroit_rewards`). Everything else is returned unchanged.
    """
    trajectories, notes = list(loaded.trajectories), []
    dataset = config.dataset
    check_enums(config, ("dataset.observation_layout", "dataset.adroit_rewards"))  # also for unresolved configs
    if not loaded.minari_id:
        return trajectories, notes
    if spec.is_goal_conditioned and is_goal_layout(trajectories, spec.maze_observation_dim):
        if dataset.get("maze_relabel", True):
            before = len(trajectories)
            if spec.ends_at_goal:  # AntMaze: a trajectory ends after every goal row
                trajectories = relabel_antmaze(trajectories, spec.goal_xy, envs.GOAL_RADIUS)
            else:
                trajectories = relabel_maze2d(trajectories, spec.goal_xy, envs.GOAL_RADIUS, spec.max_episode_steps)
            x, y = (float(v) for v in spec.goal_xy)
            notes.append(f"relabelled against the fixed goal ({x:g}, {y:g}) (radius {envs.GOAL_RADIUS:g}): "
                         f"{before} episodes -> {len(trajectories)} trajectories")
        if dataset.get("observation_layout", "d4rl") == "d4rl":
            trajectories = to_d4rl_layout(trajectories, spec.d4rl_state_keys)
    if spec.hand_to_object_task and dataset.get("adroit_rewards", "d4rl") == "d4rl":
        trajectories, note = to_d4rl_rewards(loaded.minari_id, trajectories, spec)
        if note:
            notes.append(note)
    return trajectories, notes


def success_fraction(trajectories: Sequence[dict], spec: Any) -> float | None:
    """Mazes: the fraction of trajectories with a positive raw sparse reward (reached the goal); else None."""
    if not spec.is_goal_conditioned or not trajectories:
        return None
    return float(np.mean([np.any(np.asarray(t["rewards"]) > 0) for t in trajectories]))
