"""Are a Minari door/hammer/relocate dataset's rewards D4RL's? Relabel them where they are not.

gymnasium-robotics >= 1.2.1 pays +0.1 |palm - object| where D4RL pays -0.1 |palm - object|
(docs/faithfulness.md#adroit-dense-reward-sign). Minari's D4RL/{door,hammer,relocate}/*-v2
were made by replaying D4RL's actions in gymnasium-robotics, so their rewards carry the sign of
the version that replayed them. The check recomputes D4RL's reward (door_v0.py, hammer_v0.py,
relocate_v0.py) from the simulator states the first episodes record (`infos['state']`, as the
env's `get_env_state` returns them, one per step after the reset) and asks which is closer:

- stored = D4RL's: kept;
- stored = D4RL's + 0.2 |palm - object| (the flipped sign): every reward is relabelled by
  subtracting 0.2 |palm - object|, which each next observation holds exactly as the env
  computed it;
- neither: kept as stored, with a note.

The recomputation is close, not exact: after a MuJoCo step the site positions the env read are
one substep older than the recorded state, so the two hypotheses are told apart by their median
error against the size of the sign term. A dataset without states cannot be checked and is kept
as stored, with a note saying so.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from vitamin_jax import envs
from vitamin_jax.data.replay import as_trajectory

CHECK_EPISODES = 3  # the first episodes recomputed from their states
SEPARATION = 0.1  # a hypothesis holds if its median error is below this fraction of the median 0.2 d
SIGN_FLIP = 0.2  # gymnasium-robotics' +0.1 d minus D4RL's -0.1 d
def hand_to_object_distance(task: str, next_observations: np.ndarray) -> np.ndarray:
    """|palm - object| [T] after each step, from the [T, S] next observations of gymnasium-robotics' layout.

    door: palm - handle at 35:38; hammer: palm at 33:36, hammer body at 36:39; relocate:
    palm - ball at 30:33 (each env's `_get_obs`).
    """
    obs = np.asarray(next_observations, np.float64)
    if task == "door":
        delta = obs[:, 35:38]
    elif task == "hammer":
        delta = obs[:, 33:36] - obs[:, 36:39]
    elif task == "relocate":
        delta = obs[:, 30:33]
    else:
        raise ValueError(f"no hand-to-object term for task {task!r}")
    return np.linalg.norm(delta, axis=-1)


def d4rl_reward_from_state(env: Any, task: str, state: dict) -> float:
    """D4RL's reward of the step that ended in `state` (`env` is the unwrapped gymnasium-robotics env)."""
    if task == "relocate":  # positions recorded directly (its set_env_state does not round-trip them)
        palm, obj, target = (np.asarray(state[k], np.float64) for k in ("palm_pos", "obj_pos", "target_pos"))
        reward = -0.1 * np.linalg.norm(palm - obj)
        if obj[2] > 0.04:
            reward += 1.0 - 0.5 * np.linalg.norm(palm - target) - 0.5 * np.linalg.norm(obj - target)
        goal_distance = np.linalg.norm(obj - target)
        return float(reward + 10.0 * (goal_distance < 0.1) + 20.0 * (goal_distance < 0.05))
    keys = env._state_space.spaces.keys()  # what set_env_state accepts (hammer's get_env_state has one more)
    env.set_env_state({k: np.asarray(state[k], np.float64) for k in keys})  # also runs mj_forward
    data = env.data
    if task == "door":
        door = float(data.qpos[env.door_hinge_addrs])
        reward = (-0.1 * np.linalg.norm(data.site_xpos[env.grasp_site_id] - data.site_xpos[env.handle_site_id])
                  - 0.1 * (door - 1.57) ** 2 - 1e-5 * np.sum(data.qvel ** 2))
        return float(reward + 2.0 * (door > 0.2) + 8.0 * (door > 1.0) + 10.0 * (door > 1.35))
    hammer, palm = data.xpos[env.obj_body_id], data.site_xpos[env.S_grasp_site_id]
    head, nail, goal = (data.site_xpos[i] for i in (env.tool_site_id, env.target_obj_site_id, env.goal_site_id))
    nail_to_goal = np.linalg.norm(nail - goal)
    reward = (-0.1 * np.linalg.norm(palm - hammer) - np.linalg.norm(head - nail) - 10.0 * nail_to_goal
              - 1e-2 * np.linalg.norm(data.qvel))
    reward += 2.0 * (hammer[2] > 0.04 and head[2] > 0.04) + 25.0 * (nail_to_goal < 0.02) + 75.0 * (nail_to_goal < 0.01)
    return float(reward)


def _episode_states(infos: dict) -> Optional[list[dict]]:
    """The per-step states after each step ([1:] of the T + 1 recorded), or None if not recorded."""
    state = infos.get("state") if isinstance(infos, dict) else None
    if not isinstance(state, dict) or not state:
        return None
    length = len(next(iter(state.values())))
    return [{k: np.asarray(v)[i] for k, v in state.items()} for i in range(1, length)]


def recompute_episodes(dataset_id: str, spec: Any, indices: Sequence[int]) -> Optional[list[np.ndarray]]:
    """D4RL's rewards [T] of the given episodes from their recorded states; None if any lacks them."""
    import minari

    task = spec.hand_to_object_task
    env = envs.make_env(spec.name, raw=True).unwrapped
    try:
        rewards = []
        for episode in minari.load_dataset(dataset_id).iterate_episodes(episode_indices=list(indices)):
            states = _episode_states(episode.infos)
            if states is None or len(states) != len(episode.rewards):
                return None
            rewards.append(np.array([d4rl_reward_from_state(env, task, s) for s in states]))
        return rewards
    finally:
        env.close()


def to_d4rl_rewards(dataset_id: str, trajectories: Sequence[dict], spec: Any) -> tuple[list[dict], str]:
    """`trajectories` (Minari's episodes in order) with D4RL's rewards, and a one-line note ('' if kept)."""
    task = spec.hand_to_object_task  # door | hammer | relocate; None: no such term (pen), nothing to check
    trajectories = list(trajectories)
    if task is None:
        return trajectories, ""
    count = min(CHECK_EPISODES, len(trajectories))
    recomputed = recompute_episodes(dataset_id, spec, range(count))
    if recomputed is None:
        return trajectories, (f"{dataset_id} records no simulator states (infos['state']): its {task} rewards "
                              f"were kept as stored, unchecked against D4RL's (docs/faithfulness.md"
                              f"#adroit-environments-and-datasets)")
    stored = np.concatenate([np.asarray(t["rewards"], np.float64) for t in trajectories[:count]])
    term = SIGN_FLIP * np.concatenate([hand_to_object_distance(task, t["next_observations"])
                                       for t in trajectories[:count]])
    d4rl = np.concatenate(recomputed)
    same, flipped = np.median(np.abs(stored - d4rl)), np.median(np.abs(stored - term - d4rl))
    bound = SEPARATION * np.median(term)
    if same <= bound and same < flipped:
        return trajectories, ""
    if flipped <= bound:
        relabelled = [as_trajectory({**t, "rewards": np.asarray(t["rewards"], np.float64)
                                     - SIGN_FLIP * hand_to_object_distance(task, t["next_observations"])})
                      for t in trajectories]
        return relabelled, (f"{dataset_id}: stored {task} rewards carry gymnasium-robotics' +0.1 |palm - object| "
                            f"(checked on {count} episodes); relabelled to D4RL's -0.1 |palm - object|")
    return trajectories, (f"{dataset_id}: stored {task} rewards are neither D4RL's nor the flipped sign's (median "
                          f"errors {same:.3g} and {flipped:.3g}): kept as stored")
