"""Registry, env construction and wrappers, toy MDP and D4RL scores."""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from vitamin_jax import envs
from vitamin_jax.envs.wrappers import DelayedReward

PAPER_NAMES = (
    [f"{e}-{k}" for e in ("hopper", "halfcheetah", "walker2d", "ant") for k in ("random", "medium", "medium-replay")]
    + [f"{t}-{k}" for t in ("pen", "hammer", "door", "relocate") for k in ("human", "cloned", "expert")]
    + [f"antmaze-{m}" for m in ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play",
                                "large-diverse")]
    + [f"maze2d-{m}" for m in ("open", "umaze", "medium", "large")]
    + ["toy"]
)


@pytest.fixture(scope="module")
def built():
    """make_env(name, seed=0), built once per module: Adroit/AntMaze builds take ~0.1-1 s each."""
    cache: dict = {}

    def get(name: str) -> gym.Env:
        if name not in cache:
            spec = envs.get_spec(name)
            try:
                cache[name] = envs.make_env(name, seed=0)
            except gym.error.NameNotFound as e:  # pragma: no cover - depends on gymnasium-robotics
                pytest.skip(f"{spec.env_id} is not registered by this gymnasium-robotics: {e}")
        return cache[name]

    yield get
    for env in cache.values():
        env.close()


# ------------------------------------------------------------------------------------ registry
def test_registry_has_every_dataset_of_the_paper():
    assert set(PAPER_NAMES) <= set(envs.dataset_names())


@pytest.mark.parametrize("name, family, env_id, limit, divisor, shift, rtg_scale, layer_norm, minari_id", [
    ("hopper-medium", "mujoco", "Hopper-v5", 1000, 1.0, 0.0, 1e-3, False, "mujoco/hopper/medium-v0"),
    ("ant-random", "mujoco", "Ant-v5", 1000, 1.0, 0.0, 1e-3, False, None),
    ("walker2d-medium-replay", "mujoco", "Walker2d-v5", 1000, 1.0, 0.0, 1e-3, False, None),
    ("pen-human", "adroit", "AdroitHandPen-v1", 100, 100.0, 0.0, 1.0, True, "D4RL/pen/human-v2"),
    ("hammer-cloned", "adroit", "AdroitHandHammer-v1", 200, 1000.0, 0.0, 1.0, True, "D4RL/hammer/cloned-v2"),
    ("door-expert", "adroit", "AdroitHandDoor-v1", 200, 100.0, 0.0, 1e-3, True, "D4RL/door/expert-v2"),
    ("relocate-human", "adroit", "AdroitHandRelocate-v1", 200, 100.0, 0.0, 1.0, True, "D4RL/relocate/human-v2"),
    ("antmaze-umaze", "antmaze", "AntMaze_UMaze-v4", 700, 1.0, -1.0, 1e-3, True, "D4RL/antmaze/umaze-v1"),
    ("antmaze-umaze-diverse", "antmaze", "AntMaze_UMaze-v4", 700, 1.0, -1.0, 1e-3, True,
     "D4RL/antmaze/umaze-diverse-v1"),
    ("antmaze-large-play", "antmaze", "AntMaze_Large-v4", 1000, 1.0, -1.0, 1e-3, True, "D4RL/antmaze/large-play-v1"),
    ("maze2d-open", "maze2d", "PointMaze_Open-v3", 150, 1.0, 0.0, 1.0, True, "D4RL/pointmaze/open-v2"),
    ("maze2d-umaze", "maze2d", "PointMaze_UMaze-v3", 300, 1.0, 0.0, 1.0, True, "D4RL/pointmaze/umaze-v2"),
    ("maze2d-medium", "maze2d", "PointMaze_Medium-v3", 600, 1.0, 0.0, 1.0, True, "D4RL/pointmaze/medium-v2"),
    ("maze2d-large", "maze2d", "PointMaze_Large-v3", 800, 1.0, 0.0, 1.0, True, "D4RL/pointmaze/large-v2"),
    ("toy", "toy", "vitamin/SingleStateToy-v0", 1, 1.0, 0.0, 1.0, False, None),
])
def test_registry_constants(name, family, env_id, limit, divisor, shift, rtg_scale, layer_norm, minari_id):
    spec = envs.get_spec(name)
    assert (spec.family, spec.env_id, spec.max_episode_steps) == (family, env_id, limit)
    assert (spec.reward_divisor, spec.reward_shift, spec.reward_scale) == (divisor, shift, rtg_scale)
    assert (spec.critic_layer_norm, spec.minari_id) == (layer_norm, minari_id)
    assert spec.is_goal_conditioned == (family in ("antmaze", "maze2d"))


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_task_behaviour_fields_follow_the_family(name):
    """The DatasetSpec fields make_env and the data pipeline read instead of testing `family`."""
    spec = envs.get_spec(name)
    prefix = name.split("-", 1)[0]
    antmaze, maze2d = spec.family == "antmaze", spec.family == "maze2d"
    assert spec.needs_gymnasium_robotics == (spec.family in ("adroit", "antmaze", "maze2d"))
    assert spec.uses_mujoco == (name != "toy")
    assert (spec.ends_at_goal, spec.removes_trivial_trajs, spec.reports_success_rate) == (antmaze,) * 3
    assert spec.ends_at_pen_drop == (prefix == "pen")
    assert spec.hand_to_object_task == (prefix if prefix in ("door", "hammer", "relocate") else None)
    assert spec.d4rl_state_keys == (("achieved_goal", "observation") if antmaze else ("observation",) if maze2d else ())
    assert spec.maze_observation_dim == (27 if antmaze else 4 if maze2d else 0)
    assert spec.builtin_dataset == (name == "toy")
    per_env = spec.family in ("mujoco", "adroit")
    assert (spec.env_label, spec.dataset_kind) == ((prefix, name.split("-", 1)[1]) if per_env else (name, "data"))
    assert spec.preset == ("configs/toy.py" if name == "toy" else f"configs/{spec.family}.py:{name}")


def test_specs_are_hashable_and_picklable():
    spec = envs.get_spec("antmaze-medium-diverse")
    assert {spec: 1}[spec] == 1
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_spec_lookup_accepts_versions_and_suggests_names():
    assert envs.get_spec("hopper-medium-v2").name == "hopper-medium"
    assert envs.get_spec("pen-human-v1").reward_divisor == 100.0
    assert envs.get_spec("maze2d-open-v0").reward_divisor == 1.0  # the original's env-only /100 not copied
    with pytest.raises(envs.UnknownDatasetError, match="halfcheetah-medium") as info:
        envs.get_spec("halfcheeta-medium")
    assert "dataset_names()" in str(info.value)
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------ building
@pytest.mark.parametrize("name", envs.dataset_names())
def test_every_registry_entry_builds_and_steps(built, name):
    env, spec = built(name), envs.get_spec(name)
    assert env.spec.max_episode_steps == spec.max_episode_steps
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    assert np.isfinite(reward) and isinstance(terminated, bool) and isinstance(truncated, bool)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)


def test_first_reset_uses_the_seed_given_to_make_env():
    first, _ = envs.make_env("hopper-medium", seed=7).reset()
    again, _ = envs.make_env("hopper-medium").reset(seed=7)
    other, _ = envs.make_env("hopper-medium").reset(seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_vector_env_seeds_each_copy_and_autoresets_next_step():
    vec = envs.make_vector_env("toy", num_envs=3, seed=5)
    assert vec.metadata["autoreset_mode"] == envs.AUTORESET_MODE == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = vec.reset()
    assert obs.shape == (3, 1) and obs.dtype == np.float32
    _, reward, terminated, _, _ = vec.step(np.zeros((3, 1), np.float32))
    np.testing.assert_allclose(reward, 1.0)
    assert terminated.all()
    _, reward, terminated, _, _ = vec.step(np.zeros((3, 1), np.float32))  # the reset step of NEXT_STEP
    np.testing.assert_array_equal(reward, 0.0)
    assert not terminated.any()
    hoppers = envs.make_vector_env("hopper-medium", num_envs=2, seed=5)
    obs, _ = hoppers.reset()
    np.testing.assert_array_equal(obs[1], envs.make_env("hopper-medium").reset(seed=6)[0])


# ------------------------------------------------------------------------------------ rewards
def _paired_rewards(name: str, steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    raw_env, env = envs.make_env(name, raw=True), envs.make_env(name)
    raw_env.reset(seed=3)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    raw, wrapped = [], []
    for _ in range(steps):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        raw.append(raw_env.step(action)[1])
        wrapped.append(env.step(action)[1])
    return np.array(raw), np.array(wrapped)


@pytest.mark.parametrize("name, divisor, shift", [
    ("hammer-human", 1000.0, 0.0), ("pen-human", 100.0, 0.0), ("door-cloned", 100.0, 0.0),
    ("antmaze-umaze", 1.0, -1.0), ("hopper-medium", 1.0, 0.0), ("maze2d-open", 1.0, 0.0),
])
def test_env_reward_is_raw_reward_over_divisor_plus_shift(name, divisor, shift):
    raw, wrapped = _paired_rewards(name)
    assert np.any(raw != 0.0) or name.startswith(("antmaze", "maze2d"))
    np.testing.assert_allclose(wrapped, raw / divisor + shift, rtol=1e-6, atol=1e-9)


def test_hammer_reward_is_d4rl_reward():
    """D4RL's hammer reward, recomputed from the simulator state after each step."""
    env = envs.make_env("hammer-expert", raw=True)
    env.reset(seed=0)
    u = env.unwrapped
    rng = np.random.default_rng(1)
    for _ in range(5):
        _, reward, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        hammer, palm = u.data.xpos[u.obj_body_id], u.data.site_xpos[u.S_grasp_site_id]
        head, nail, goal = (u.data.site_xpos[i] for i in (u.tool_site_id, u.target_obj_site_id, u.goal_site_id))
        d4rl = (-0.1 * np.linalg.norm(palm - hammer) - np.linalg.norm(head - nail) - 10 * np.linalg.norm(nail - goal)
                - 1e-2 * np.linalg.norm(u.data.qvel) + 2.0 * (hammer[2] > 0.04 and head[2] > 0.04)
                + 25.0 * (np.linalg.norm(nail - goal) < 0.02) + 75.0 * (np.linalg.norm(nail - goal) < 0.01))
        assert reward == pytest.approx(d4rl, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["door-human", "relocate-human"])
def test_adroit_hand_to_object_term_has_d4rl_sign(name):
    fixed, bare = envs.make_env(name, raw=True), envs.make_env(name, raw=True, d4rl_adroit_reward=False)
    fixed.reset(seed=2)
    bare.reset(seed=2)
    u = fixed.unwrapped
    action = np.zeros(fixed.action_space.shape, np.float32)
    _, r_fixed, *_ = fixed.step(action)
    _, r_bare, *_ = bare.step(action)
    if name.startswith("door"):
        distance = np.linalg.norm(u.data.site_xpos[u.grasp_site_id] - u.data.site_xpos[u.handle_site_id])
    else:
        distance = np.linalg.norm(u.data.site_xpos[u.S_grasp_site_id] - u.data.xpos[u.obj_body_id])
    assert distance > 0.01 and r_fixed == pytest.approx(r_bare - 0.2 * distance)


def _put_agent_on_goal(env: gym.Env) -> None:
    """Teleport the ant / point mass onto the goal (maze envs keep the goal in `goal`)."""
    u = env.unwrapped
    body = u.ant_env if hasattr(u, "ant_env") else u.point_env
    qpos, qvel = body.data.qpos.copy(), np.zeros_like(body.data.qvel)
    qpos[:2] = u.goal
    body.set_state(qpos, qvel)


def test_antmaze_ends_at_the_goal_and_maze2d_does_not(built):
    ant = built("antmaze-umaze")
    ant.reset(seed=0)
    _put_agent_on_goal(ant)
    _, reward, terminated, truncated, info = ant.step(np.zeros(ant.action_space.shape, np.float32))
    assert terminated and not truncated and info["success"] and reward == 0.0  # sparse 1, shifted by -1
    point = built("maze2d-umaze")
    point.reset(seed=0)
    for _ in range(2):
        _put_agent_on_goal(point)
        _, reward, terminated, _, _ = point.step(np.zeros(point.action_space.shape, np.float32))
        assert reward == 1.0 and not terminated  # D4RL maze2d: reward keeps coming, no termination


@pytest.mark.parametrize("name, goal_cell, reset_cell", [
    ("antmaze-umaze", (1, 1), (3, 1)), ("antmaze-umaze-diverse", (1, 1), (3, 1)),
    ("antmaze-medium-play", (6, 6), (1, 1)), ("antmaze-large-diverse", (7, 9), (1, 1)),
    ("maze2d-open", (2, 3), None), ("maze2d-umaze", (1, 1), None), ("maze2d-medium", (6, 6), None),
    ("maze2d-large", (7, 9), None),
])
def test_maze_goal_and_start_cells(built, name, goal_cell, reset_cell):
    env = built(name)
    env.reset(seed=4)
    maze = env.unwrapped.maze
    assert tuple(maze.cell_xy_to_rowcol(env.unwrapped.goal)) == goal_cell
    if reset_cell is not None:
        assert tuple(maze.cell_xy_to_rowcol(env.unwrapped.reset_pos)) == reset_cell


def test_delayed_reward_over_a_full_hopper_episode():
    env = envs.make_env("hopper-medium", seed=0, delayed_reward=5)
    env.reset()
    rng = np.random.default_rng(0)
    paid, single = [], []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
        paid.append(reward)
        single.append(info["single_reward"])
        done = terminated or truncated
    paid = np.array(paid)
    assert len(paid) > 5
    np.testing.assert_allclose(paid.sum(), np.sum(single), rtol=1e-9)
    steps = np.arange(1, len(paid) + 1)
    assert np.all(paid[(steps % 5 != 0) & (steps != len(paid))] == 0.0)
    assert np.all(paid[steps % 5 == 0] != 0.0) and paid[-1] != 0.0


class _Counter(gym.Env):
    """Reward t at step t; truncated after 12 steps."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), float(self.t), False, self.t == 12, {}


def test_delayed_reward_pays_every_m_steps_and_at_the_end():
    env = DelayedReward(_Counter(), every=5)
    for _ in range(2):  # a second episode starts from a clean accumulator
        env.reset()
        paid = [env.step(np.zeros(1, np.float32))[1] for _ in range(12)]
        expected = np.zeros(12)
        expected[[4, 9, 11]] = [1 + 2 + 3 + 4 + 5, 6 + 7 + 8 + 9 + 10, 11 + 12]
        np.testing.assert_array_equal(paid, expected)
    with pytest.raises(ValueError):
        DelayedReward(_Counter(), every=1)


def test_delayed_reward_sits_inside_the_reward_constants():
    """As the original: the sum is paid, then divided (hammer /1000)."""
    env = envs.make_env("hammer-human", seed=1, delayed_reward=3)
    env.reset()
    rewards, singles = [], []
    for _ in range(6):
        _, r, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
        rewards.append(r)
        singles.append(info["single_reward"])
    assert rewards[2] == pytest.approx(sum(singles[:3]) / 1000.0) and rewards[0] == 0.0


# ------------------------------------------------------------------------------------ scores
def test_normalized_score_is_d4rl():
    assert envs.normalized_score("hopper-medium", 3234.3) == pytest.approx(100.0)
    assert envs.normalized_score("hopper-random", -20.272305) == pytest.approx(0.0)
    assert envs.normalized_score("halfcheetah-random", 0.0) == pytest.approx(
        100 * 280.178953 / (12135.0 + 280.178953))
    assert envs.normalized_score("pen-human", 3076.8331017826877) == pytest.approx(100.0)
    assert envs.normalized_score("maze2d-umaze", 23.85 + (161.86 - 23.85) / 2) == pytest.approx(50.0)
    np.testing.assert_allclose(envs.normalized_score("antmaze-umaze", np.array([0.0, 1.0])), [0.0, 100.0])


def test_success_rate_from_returns_or_lengths():
    assert envs.success_rate("antmaze-umaze", [0.0, 1.0, 1.0, 0.0]) == 0.5
    assert envs.success_rate("antmaze-umaze", episode_lengths=[700, 312, 700, 700]) == 0.25
    assert envs.success_rate("antmaze-large-play", episode_lengths=[999, 1000]) == 0.5
    with pytest.raises(ValueError):
        envs.success_rate("hopper-medium", [1.0])
    with pytest.raises(ValueError):
        envs.success_rate("antmaze-umaze")


# ------------------------------------------------------------------------------------ observations
def test_goal_observation_is_flattened_in_fixed_order(built):
    obs = {"desired_goal": np.array([5.0, 6.0]), "observation": np.array([1.0, 2.0, 3.0]),
           "achieved_goal": np.array([4.0, 4.5])}
    flat = envs.flatten_observation(obs)
    np.testing.assert_array_equal(flat, [1, 2, 3, 4, 4.5, 5, 6])
    assert flat.dtype == np.float32
    batched = {k: np.stack([v, v + 10]) for k, v in obs.items()}
    np.testing.assert_array_equal(envs.flatten_observation(batched)[1], [11, 12, 13, 14, 14.5, 15, 16])
    assert envs.flatten_observation(np.arange(3.0)).dtype == np.float32
    with pytest.raises(KeyError):
        envs.flatten_observation({"observation": np.zeros(2)})
    # The goal-appended layout survives as an option (the default is D4RL's, tested below).
    env = envs.make_env("antmaze-umaze", observation_layout="goal")
    flat, _ = env.reset(seed=0)
    raw, _ = envs.make_env("antmaze-umaze", raw=True).reset(seed=0)
    assert env.observation_space.shape == (27 + 2 + 2,)
    np.testing.assert_allclose(flat, envs.flatten_observation(raw))
    np.testing.assert_allclose(flat[-2:], envs.get_spec("antmaze-umaze").goal_xy, rtol=1e-6)


@pytest.mark.parametrize("name, dim", [("maze2d-umaze", 4), ("maze2d-large", 4), ("antmaze-umaze", 29),
                                       ("antmaze-large-play", 29)])
def test_maze_state_is_d4rls_layout(built, name, dim):
    """D4RL's maze2d state is (x, y, vx, vy); its ant state qpos[:15] then qvel[:14] (no goal)."""
    env = built(name)
    assert env.observation_space.shape == (dim,)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
    u = env.unwrapped
    body = u.ant_env if hasattr(u, "ant_env") else u.point_env
    expected = np.concatenate([body.data.qpos.ravel(), body.data.qvel.ravel()])
    np.testing.assert_allclose(obs, expected[:dim] if dim == 4 else np.concatenate([body.data.qpos[:15],
                                                                                     body.data.qvel[:14]]), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["maze2d-umaze", "maze2d-medium", "antmaze-umaze", "antmaze-medium-play"])
def test_maze_goal_is_fixed_at_the_goal_cell(name):
    """gymnasium-robotics re-noises the goal on every reset; D4RL (and we) keep the goal cell's centre."""
    spec = envs.get_spec(name)
    env, bare = envs.make_env(name), envs.make_env(name, d4rl_goal=False)
    u, scale = env.unwrapped, spec.maze_scaling
    row, col = spec.goal_cell
    centre = u.maze.cell_rowcol_to_xy(np.array([row, col]))  # gymnasium-robotics' own conversion
    np.testing.assert_allclose(spec.goal_xy, centre)
    bare_goals = []
    for seed in range(3):
        env.reset(seed=seed)
        np.testing.assert_array_equal(u.goal, centre)
        bare.reset(seed=seed)
        bare_goals.append(bare.unwrapped.goal.copy())
    assert len({tuple(g) for g in bare_goals}) == 3 and np.all(np.abs(np.array(bare_goals) - centre) <= 0.25 * scale)


@pytest.mark.parametrize("name", ["maze2d-umaze", "antmaze-umaze"])
def test_goal_radius_is_d4rls(name):
    """0.47 from the goal: reached for D4RL (0.5), not for gymnasium-robotics (0.45); 0.52: reached for neither."""
    spec = envs.get_spec(name)
    for distance, reached in [(0.47, True), (0.52, False)]:
        env = envs.make_env(name, raw=True)
        bare = envs.make_env(name, raw=True, d4rl_goal=False)
        for e in (env, bare):
            e.reset(seed=0)
            u = e.unwrapped
            body = u.ant_env if hasattr(u, "ant_env") else u.point_env
            qpos = body.data.qpos.copy()
            qpos[:2] = u.goal + np.array([distance, 0.0])
            body.set_state(qpos, np.zeros_like(body.data.qvel))
        zero = np.zeros(env.action_space.shape, np.float32)
        obs, reward, terminated, _, info = env.step(zero)
        assert np.linalg.norm(obs["achieved_goal"] - spec.goal_xy) == pytest.approx(distance, abs=0.02)
        assert reward == float(reached) and info["success"] == reached
        assert terminated == (reached and spec.family == "antmaze")  # maze2d keeps going, as D4RL's
        _, bare_reward, bare_terminated, _, _ = bare.step(zero)
        assert bare_reward == 0.0 and not bare_terminated


def test_pen_episode_ends_when_the_pen_drops():
    """D4RL's pen_v0: done when the object's z < 0.075; gymnasium-robotics goes on paying about -5 a step."""
    env, bare = envs.make_env("pen-cloned", raw=True), envs.make_env("pen-cloned", raw=True, pen_termination=False)
    env.reset(seed=4)
    bare.reset(seed=4)
    rng = np.random.default_rng(0)
    u = env.unwrapped
    for step in range(100):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)  # these actions drop the pen
        _, reward, terminated, truncated, _ = env.step(action)
        _, bare_reward, bare_terminated, _, _ = bare.step(action)
        dropped = u.data.xpos[u.obj_body_id][2] < 0.075
        assert terminated == dropped and not bare_terminated and reward == bare_reward
        if dropped:
            break
    assert dropped and step < 99 and not truncated
    _, after, *_ = bare.step(np.zeros(env.action_space.shape, np.float32))
    assert after < -4.0  # the library's env keeps going and pays the drop penalty again
    for name in ("pen-human", "pen-cloned", "pen-expert"):
        assert "PenDropTermination" in str(envs.make_env(name))  # every pen preset, online and in evaluation


# ------------------------------------------------------------------------------------ toy
def test_toy_env_passes_gymnasium_checks_and_has_the_paper_reward():
    env = gym.make("vitamin/SingleStateToy-v0").unwrapped
    check_env(env, skip_render_check=True)
    for a, r in [(-1.0, 0.0), (-0.5, 0.25), (0.0, 1.0), (0.5, 0.0), (1.0, -1.0)]:
        env.reset(seed=0)
        obs, reward, terminated, truncated, _ = env.step(np.array([a], np.float32))
        assert reward == pytest.approx(r) and terminated and not truncated
        np.testing.assert_array_equal(obs, [1.0])


def test_toy_dataset_has_the_two_action_clusters():
    data = envs.toy_dataset(59)
    actions = np.array([t["actions"][0, 0] for t in data])
    assert len(data) == 128 and np.sum((actions > -1) & (actions < -0.95)) == 100
    assert np.sum((actions > 0.5) & (actions < 1.0)) == 28
    np.testing.assert_allclose([t["rewards"][0] for t in data], envs.toy_reward(actions), rtol=1e-6)
    keys = {"observations", "actions", "rewards", "next_observations", "terminals", "timeouts"}
    assert all(set(t) == keys and t["terminals"][0] == 1 for t in data)
    np.testing.assert_array_equal(envs.toy_dataset(59)[0]["actions"], data[0]["actions"])


def test_toy_envs_do_not_share_action_space_rngs():
    a, b = envs.make_env("toy", seed=1), envs.make_env("toy", seed=2)
    assert a.action_space is not b.action_space
    assert a.action_space.sample()[0] != b.action_space.sample()[0]


def test_importing_envs_installs_no_mujoco_warning_hook_until_the_first_mujoco_env():
    code = ("import sys; from vitamin_jax.envs import make, make_env; hook = make._route_mujoco_warnings.cache_info; "
            "before = hook().currsize; make_env('toy'); toy = hook().currsize, 'mujoco' in sys.modules; "
            "make_env('hopper-random'); make_env('hopper-random'); print(before, *toy, hook().currsize, hook().misses)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["0", "0", "False", "1", "1"], result.stderr
