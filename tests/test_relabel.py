"""D4RL's task on Minari-style data: maze relabelling and layouts, Adroit rewards, dims, the preset summary.

Each fixture is a small Minari dataset recorded the way Minari's generation scripts record
theirs (pointmaze: a goal per episode, cut at its first success; antmaze: fixed-length segments
with a goal per segment; Adroit: DataCollector on the real envs), loaded with the real preset
through `offline_data(config)` and checked against a NumPy computation of D4RL's rule.
"""

import warnings

import gymnasium as gym
import h5py
import numpy as np
import pytest

from vitamin_jax import envs
from vitamin_jax.configuration import load_config
from vitamin_jax.data.preprocess import offline_data
from vitamin_jax.errors import DatasetError

RADIUS = 0.5  # D4RL's
MINARI_RADIUS = 0.45  # gymnasium-robotics', which Minari's rewards used


@pytest.fixture
def minari_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def write_minari(dataset_id, episodes, obs_dim, act_dim):
    """episodes: dicts of position paths etc. -> a Minari dataset via create_dataset_from_buffers."""
    import minari
    from minari.data_collector import EpisodeBuffer

    box = lambda n: gym.spaces.Box(-np.inf, np.inf, (n,), np.float64)
    observation_space = gym.spaces.Dict({"observation": box(obs_dim), "achieved_goal": box(2),
                                         "desired_goal": box(2)})
    buffers = [EpisodeBuffer(id=i, observations=e["observations"], actions=e["actions"], rewards=list(e["rewards"]),
                             terminations=list(e["terminations"]), truncations=list(e["truncations"]))
               for i, e in enumerate(episodes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minari.create_dataset_from_buffers(dataset_id, buffers, observation_space=observation_space,
                                           action_space=gym.spaces.Box(-1, 1, (act_dim,), np.float32))


def walk(rng, start, waypoints, step, jitter):
    """Positions from `start` through `waypoints`, `step` apart with Gaussian `jitter`."""
    points = [np.asarray(start, np.float64)]
    for target in waypoints:
        while np.linalg.norm(points[-1] - target) > step:
            direction = (target - points[-1]) / np.linalg.norm(target - points[-1])
            points.append(points[-1] + step * direction + rng.normal(0.0, jitter, 2))
    return np.array(points)


def config_for(preset, **dataset):
    config = load_config(preset)
    for key, value in dataset.items():
        config.dataset[key] = value
    return config


# ---------------------------------------------------------------------------------------------- maze2d
MAZE2D_GOAL = np.array([-1.0, 1.0])  # PointMaze UMaze cell (1, 1): x = col - 2, y = 2 - row


def pointmaze_episodes(seed=0):
    """Minari's pointmaze recording: one stream, a new noisy goal per episode, cut at its first success.

    Episode paths pass near the fixed evaluation goal (and sit at 0.45-0.5 of it), and one episode
    is longer than maze2d-umaze's 300-step limit.
    """
    rng = np.random.default_rng(seed)
    cells = [(1, 2), (1, 3), (2, 3), (3, 1), (3, 2), (3, 3)]
    position, episodes = np.array([-1.0, -1.0]), []
    plans = [[MAZE2D_GOAL + [0.3, 0.0]], [], [MAZE2D_GOAL + [0.0, -0.47]], [], [MAZE2D_GOAL], []]
    for k, via in enumerate(plans):
        row, col = cells[rng.integers(len(cells))]
        own_goal = np.array([col - 2.0, 2.0 - row]) + rng.uniform(-0.25, 0.25, 2)
        if k == 3:  # a long detour far from its goal: longer than the time limit
            own_goal = np.array([-5.0, 0.0])
            via = [np.array([5.0, 5.0]), np.array([5.0, -5.0])] * 3
        waypoints = via + [own_goal]
        path = walk(rng, position, waypoints, 0.1, 0.01)
        reached = np.flatnonzero(np.linalg.norm(path[1:] - own_goal, axis=1) <= MINARI_RADIUS)
        path = path[:reached[0] + 2]  # the success step is the last one
        velocity = np.vstack([np.zeros((1, 2)), np.diff(path, axis=0) / 0.01])
        n = len(path) - 1
        rewards = (np.linalg.norm(path[1:] - own_goal, axis=1) <= MINARI_RADIUS).astype(float)
        episodes.append({"observations": {"observation": np.hstack([path, velocity]), "achieved_goal": path,
                                          "desired_goal": np.repeat(own_goal[None], n + 1, 0)},
                         "actions": rng.uniform(-1, 1, (n, 2)), "rewards": rewards,
                         "terminations": np.zeros(n, bool), "truncations": np.arange(n) == n - 1})
        position = path[-1]
    return episodes


def expected_maze2d(episodes, limit=300):
    """D4RL's rule: reward_t = |pos(s_t) - goal| <= 0.5; episodes cut every `limit` rows; no terminals."""
    out = []
    for e in episodes:
        pos = e["observations"]["achieved_goal"][:-1]
        rewards = (np.sqrt(((pos - MAZE2D_GOAL) ** 2).sum(1)) <= RADIUS).astype(np.float32)
        for s in range(0, len(rewards), limit):
            out.append((e["observations"]["observation"][s], rewards[s:s + limit]))
    return out


def match(first_state, candidates):
    """Index of the candidate (first state, ...) whose first state equals `first_state` (float32 storage)."""
    hits = [i for i, c in enumerate(candidates) if np.allclose(c[0], first_state, rtol=1e-5, atol=1e-5)]
    assert len(hits) == 1, hits
    return hits[0]


def test_maze2d_rewards_and_ends_follow_d4rl(minari_dir):
    episodes = pointmaze_episodes()
    assert max(len(e["rewards"]) for e in episodes) > 300 and all(e["rewards"][-1] == 1 for e in episodes)
    write_minari("D4RL/pointmaze/umaze-v2", episodes, 4, 2)
    data = offline_data(config_for("configs/maze2d.py:maze2d-umaze"), verbose=False)
    env = envs.make_env("maze2d-umaze")
    assert data.trajectories[0]["observations"].shape[-1] == 4 == env.observation_space.shape[0]
    rows = np.concatenate([t["observations"] for t in data.trajectories])
    rewards = np.concatenate([t["rewards"] for t in data.trajectories])
    near = np.linalg.norm(rows[:, :2] - MAZE2D_GOAL, axis=1) <= RADIUS
    assert near.sum() >= 10 and (rewards > 0).sum() == near.sum()
    np.testing.assert_array_equal(rewards, near.astype(np.float32))  # reward 1 <=> within 0.5 of the goal
    edge = (np.linalg.norm(rows[:, :2] - MAZE2D_GOAL, axis=1) > MINARI_RADIUS) & near
    assert edge.any()  # rows gymnasium-robotics' 0.45 would not pay
    for t in data.trajectories:  # timeouts only, at the end
        assert t["terminals"].sum() == 0 and t["timeouts"][-1] == 1 and t["timeouts"][:-1].sum() == 0
    expected = expected_maze2d(episodes)
    matched = [match(t["observations"][0], expected) for t in data.trajectories]
    assert len(set(matched)) == len(expected) - 1  # every trajectory is one of D4RL's, the lowest-return one dropped
    for t, i in zip(data.trajectories, matched):
        np.testing.assert_array_equal(t["rewards"], expected[i][1])  # same boundaries, same rewards
    assert max(len(t["rewards"]) for t in data.trajectories) == 300  # the time limit cuts the long episode


def test_maze2d_options_restore_the_recorded_data(minari_dir):
    episodes = pointmaze_episodes()
    write_minari("D4RL/pointmaze/umaze-v2", episodes, 4, 2)
    config = config_for("configs/maze2d.py:maze2d-umaze", maze_relabel=False, observation_layout="goal")
    data = offline_data(config, verbose=False)
    assert data.trajectories[0]["observations"].shape[-1] == 8  # observation, achieved, desired goal
    assert len(data.trajectories) == len(episodes) - 1
    assert all(t["rewards"].sum() == 1 and t["rewards"][-1] == 1 for t in data.trajectories)  # Minari's own goal


# ---------------------------------------------------------------------------------------------- antmaze
ANT_GOAL = np.array([-4.0, 4.0])  # AntMaze UMaze cell (1, 1), scaling 4
SEGMENT = 60


def antmaze_episodes(seed=0):
    """Minari's antmaze recording: fixed-length segments, each with its own random goal, no terminations.

    Paths wander into the fixed goal's region, stay a few steps (consecutive goal rows) and leave.
    """
    rng = np.random.default_rng(seed)
    episodes = []
    for k in range(5):
        own_goal = rng.uniform(-6, 6, 2)
        start = np.array([-4.0, -4.0]) + rng.normal(0, 0.3, 2)
        stay = [ANT_GOAL + rng.normal(0, 0.1, 2) for _ in range(5)] if k != 1 else []
        path = walk(rng, start, [ANT_GOAL + [1.5, 0.0], *stay, ANT_GOAL + [0.0, -2.0]] * 3, 0.25, 0.02)
        path = np.vstack([path, path[-1] + rng.normal(0, 0.05, (SEGMENT + 1, 2))])[:SEGMENT + 1]
        rewards = (np.linalg.norm(path[1:] - own_goal, axis=1) <= MINARI_RADIUS).astype(float)
        episodes.append({"observations": {"observation": rng.normal(size=(SEGMENT + 1, 27)), "achieved_goal": path,
                                          "desired_goal": np.repeat(own_goal[None], SEGMENT + 1, 0)},
                         "actions": rng.uniform(-1, 1, (SEGMENT, 8)), "rewards": rewards,
                         "terminations": np.zeros(SEGMENT, bool), "truncations": np.arange(SEGMENT) == SEGMENT - 1})
    return episodes


def expected_antmaze(episodes):
    """The original's rule: goal rows |pos(s'_t) - goal| <= 0.5 end trajectories; reward 1 there, then -1 shift."""
    out = []
    for e in episodes:
        goal = np.linalg.norm(e["observations"]["achieved_goal"][1:] - ANT_GOAL, axis=1) <= RADIUS
        start = 0
        for i in range(SEGMENT):
            if goal[i] or i == SEGMENT - 1:
                out.append((start, goal[start:i + 1].astype(np.float32) - 1.0, e))
                start = i + 1
    return out


def test_antmaze_trajectories_end_at_the_goal_or_the_segment_end(minari_dir):
    episodes = antmaze_episodes()
    write_minari("D4RL/antmaze/umaze-diverse-v1", episodes, 27, 8)
    data = offline_data(config_for("configs/antmaze.py:antmaze-umaze-diverse"), verbose=False)
    env = envs.make_env("antmaze-umaze-diverse")
    assert data.trajectories[0]["observations"].shape[-1] == 29 == env.observation_space.shape[0]
    segment_ends = [e["observations"]["achieved_goal"][-1] for e in episodes]
    for t in data.trajectories:
        distance = np.linalg.norm(t["next_observations"][:, :2] - ANT_GOAL, axis=1)  # D4RL layout: x, y first
        np.testing.assert_array_equal(t["rewards"], np.where(distance <= RADIUS, 0.0, -1.0))  # the -1 shift
        assert t["terminals"][-1] == 1 and t["terminals"][:-1].sum() == 0  # the original's dones
        assert np.all(distance[:-1] > RADIUS)  # no goal row before the end
        at_goal = distance[-1] <= RADIUS  # ends at its first goal row, or else at a segment end
        assert at_goal or any(np.allclose(t["next_observations"][-1, :2], end, atol=1e-5) for end in segment_ends)
        assert t["timeouts"][-1] == float(not at_goal)
    expected = expected_antmaze(episodes)
    one_step = [x for x in expected if len(x[1]) == 1]
    assert len(one_step) > 9  # the original keeps 9 of them
    kept = [x for x in expected if len(x[1]) > 1] + one_step[:9]
    lengths = sorted(len(t["rewards"]) for t in data.trajectories)
    returns = sorted(float(t["rewards"].sum()) for t in data.trajectories)
    all_returns = sorted(float(x[1].sum()) for x in kept)
    assert len(lengths) == len(kept) - 1 and returns == all_returns[1:]  # minus the lowest-return one
    assert sum(len(x[1]) for x in expected) == len(episodes) * SEGMENT  # every row kept before the filter


def test_antmaze_options_restore_the_recorded_segments(minari_dir):
    episodes = antmaze_episodes()
    write_minari("D4RL/antmaze/umaze-diverse-v1", episodes, 27, 8)
    config = config_for("configs/antmaze.py:antmaze-umaze-diverse", maze_relabel=False, observation_layout="goal")
    data = offline_data(config, verbose=False)
    assert data.trajectories[0]["observations"].shape[-1] == 31
    assert sorted(len(t["rewards"]) for t in data.trajectories) == [SEGMENT] * (len(episodes) - 1)


# ---------------------------------------------------------------------------------------------- Adroit
def collect_adroit(dataset_id, name, *, d4rl_sign, record_states=True, episodes=3, steps=8):
    """DataCollector on the real env; returns the D4RL rewards of a lockstep D4RL-sign env as reference."""
    from minari import DataCollector, StepDataCallback

    class States(StepDataCallback):
        def __call__(self, env, obs, info, action=None, rew=None, terminated=None, truncated=None):
            data = super().__call__(env, obs, info, action, rew, terminated, truncated)
            data["info"] = {"success": bool(info.get("success", False))}
            if record_states:
                data["info"]["state"] = env.unwrapped.get_env_state()
            return data

    recorded = envs.make_env(name, raw=True, d4rl_adroit_reward=d4rl_sign)
    reference = envs.make_env(name, raw=True)  # D4RL's reward (tests/test_envs.py checks it)
    collector = DataCollector(recorded, step_data_callback=States, record_infos=True)
    rng = np.random.default_rng(0)
    first_obs, references = [], []
    for episode in range(episodes):
        obs, _ = collector.reset(seed=episode)
        reference.reset(seed=episode)
        first_obs.append(np.asarray(obs, np.float32))
        rewards = []
        for _ in range(steps):
            action = rng.uniform(-1, 1, recorded.action_space.shape).astype(np.float32)
            collector.step(action)
            rewards.append(reference.step(action)[1])
        references.append(np.array(rewards) * (1.0 + 0.1 * episode))  # distinct returns keep the order known
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collector.create_dataset(dataset_id)
    collector.close()
    return first_obs, [r / (1.0 + 0.1 * i) for i, r in enumerate(references)]


def by_first_observation(trajectories, first_obs):
    keyed = {tuple(np.round(t["observations"][0], 5)): t for t in trajectories}
    return [keyed.get(tuple(np.round(o, 5))) for o in first_obs]


@pytest.mark.parametrize("name", ["door-human", "hammer-cloned", "relocate-expert"])
def test_flipped_adroit_rewards_are_relabelled_to_d4rls(minari_dir, name, capsys):
    first_obs, reference = collect_adroit(f"test/{name}/flipped-v0", name, d4rl_sign=False)
    spec = envs.get_spec(name)
    config = config_for(f"configs/adroit.py:{name}", minari_id=f"test/{name}/flipped-v0")
    data = offline_data(config)
    assert "relabelled to D4RL's" in capsys.readouterr().out
    matched = [(t, r) for t, r in zip(by_first_observation(data.trajectories, first_obs), reference) if t is not None]
    assert len(matched) == 2  # three episodes, the lowest-return one dropped
    for t, r in matched:
        np.testing.assert_allclose(t["rewards"] * spec.reward_divisor, r, rtol=1e-5, atol=1e-5)
    kept = offline_data(config_for(f"configs/adroit.py:{name}", minari_id=f"test/{name}/flipped-v0",
                                   adroit_rewards="stored"), verbose=False)
    for t, r in zip(by_first_observation(kept.trajectories, first_obs), reference):
        if t is not None:  # the stored rewards carry +0.1 |palm - object|: larger than D4RL's
            assert np.all(t["rewards"] * spec.reward_divisor > r + 1e-3)


def test_d4rl_sign_and_unrecorded_states_are_kept(minari_dir, capsys):
    first_obs, reference = collect_adroit("test/door/d4rl-v0", "door-human", d4rl_sign=True)
    data = offline_data(config_for("configs/adroit.py:door-human", minari_id="test/door/d4rl-v0"))
    assert "relabel" not in capsys.readouterr().out
    for t, r in zip(by_first_observation(data.trajectories, first_obs), reference):
        if t is not None:
            np.testing.assert_allclose(t["rewards"] * 100.0, r, rtol=1e-5, atol=1e-5)
    collect_adroit("test/door/nostate-v0", "door-human", d4rl_sign=False, record_states=False)
    offline_data(config_for("configs/adroit.py:door-human", minari_id="test/door/nostate-v0"))
    assert "records no simulator states" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- dims
def write_legacy(path, obs_dim, act_dim, n=40):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(n, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, (n, act_dim)).astype(np.float32)
        f["rewards"] = rng.normal(size=n).astype(np.float32)
        f["terminals"] = np.zeros(n, bool)
        f["timeouts"] = np.arange(n) % 10 == 9


def test_legacy_file_with_other_dims_is_refused_in_one_line(tmp_path):
    path = str(tmp_path / "hopper.hdf5")
    write_legacy(path, 10, 3)
    with pytest.raises(DatasetError) as info:
        offline_data(config_for("configs/mujoco.py:hopper-medium", path=path), verbose=False)
    message = str(info.value)
    assert "\n" not in message and "10-dim" in message and "11" in message and "Hopper-v5" in message


def test_d4rl_ant_files_get_the_ant_version_with_their_dims(tmp_path):
    """D4RL's Ant: 111 dims, 27 + 84 contact forces that are all zero in its files; Ant-v5 gives 105."""
    from vitamin_jax.envs.options import env_options

    d4rl, v5, other = (str(tmp_path / f"ant{d}.hdf5") for d in (111, 105, 110))
    for path, dim in ((d4rl, 111), (v5, 105), (other, 110)):
        write_legacy(path, dim, 8)
    config = config_for("configs/mujoco.py:ant-medium", path=d4rl)
    assert env_options(config)["legacy_env"] is True
    env = envs.make_env("ant-medium", **env_options(config))
    assert env.observation_space.shape == (111,)
    env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    data = env.unwrapped.data
    np.testing.assert_allclose(obs[:27], np.concatenate([data.qpos[2:], data.qvel]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(obs[27:], 0.0)  # D4RL's contact forces (mujoco 2.x computed none)
    assert offline_data(config, verbose=False).state_mean.shape == (111,)
    assert offline_data(config_for("configs/mujoco.py:ant-medium", path=v5), verbose=False).state_mean.shape == (105,)
    with pytest.raises(DatasetError, match="110-dim.*105"):
        offline_data(config_for("configs/mujoco.py:ant-medium", path=other), verbose=False)
    with pytest.raises(ValueError, match="no legacy"):
        envs.make_env("hopper-medium", legacy_env=True)


# ---------------------------------------------------------------------------------------------- summary
def test_summary_prints_the_dataset_as_the_preset_sees_it(minari_dir, capsys):
    from vitamin_jax.data.__main__ import main

    episodes = pointmaze_episodes()
    write_minari("D4RL/pointmaze/umaze-v2", episodes, 4, 2)
    assert main(["summary", "D4RL/pointmaze/umaze-v2", "--env", "maze2d-umaze"]) == 0
    out = capsys.readouterr().out
    expected = expected_maze2d(episodes)
    success = np.mean([r.sum() > 0 for _, r in expected])
    assert f"{len(expected)} trajectories" in out and "(4-dim states)" in out
    assert f"success fraction {success:.3f}" in out and "relabelled against the fixed goal" in out


def test_bad_option_values_are_config_errors(tmp_path):
    from vitamin_jax.errors import ConfigError

    path = str(tmp_path / "hopper.hdf5")
    write_legacy(path, 11, 3)
    for field, value in (("observation_layout", "d4lr"), ("adroit_rewards", "flipped")):
        with pytest.raises(ConfigError, match=f"config.dataset.{field}="):
            offline_data(config_for("configs/mujoco.py:hopper-medium", path=path, **{field: value}), verbose=False)


def test_relabelled_goal_layout_carries_the_fixed_goal(minari_dir):
    """Relabelled but goal-appended: the desired goal in the data is the evaluation env's, not each episode's."""
    write_minari("D4RL/pointmaze/umaze-v2", pointmaze_episodes(), 4, 2)
    data = offline_data(config_for("configs/maze2d.py:maze2d-umaze", observation_layout="goal"), verbose=False)
    states = np.concatenate([t["observations"] for t in data.trajectories])
    np.testing.assert_array_equal(states[:, -2:], np.broadcast_to(MAZE2D_GOAL, (len(states), 2)))
    env = envs.make_env("maze2d-umaze", observation_layout="goal")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[-2:], MAZE2D_GOAL)
    assert env.observation_space.shape == (8,)
