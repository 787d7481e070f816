"""Dataset loading (hdf5, Minari, generated), preprocessing, missing-dataset errors and the CLI."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from vitamin_jax import envs
from vitamin_jax.data import preprocess as pp
from vitamin_jax.data.loading import load_hdf5, split_transitions
from vitamin_jax.data.replay import ReplayBuffer
from vitamin_jax.errors import DatasetError


def traj(tag, rewards, state_dim=2):
    rewards = np.asarray(rewards, np.float32)
    T = len(rewards)
    return {
        "observations": np.full((T, state_dim), tag, np.float32),
        "next_observations": np.full((T, state_dim), tag, np.float32),
        "actions": np.zeros((T, 1), np.float32),
        "rewards": rewards,
        "terminals": np.zeros(T, np.float32),
        "timeouts": np.zeros(T, np.float32),
    }


def tags(trajs):
    return [float(t["observations"][0, 0]) for t in trajs]


# ------------------------------------------------------------------------------ hdf5
def write_hdf5(path, n, terminals_at, timeouts_at, next_obs=True, timeouts=True):
    obs = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    with h5py.File(path, "w") as f:
        f["observations"] = obs
        f["actions"] = np.linspace(-1, 1, n, dtype=np.float32)[:, None]
        f["rewards"] = np.arange(n, dtype=np.float32)
        f["terminals"] = np.isin(np.arange(n), terminals_at)
        if timeouts:
            f["timeouts"] = np.isin(np.arange(n), timeouts_at)
        if next_obs:
            f["next_observations"] = obs + 1000
        f.create_group("infos")["qpos"] = np.zeros((n, 3))  # extra D4RL groups are ignored
    return obs


def test_hdf5_split_on_terminals_and_timeouts_drops_trailing(tmp_path):
    path = str(tmp_path / "d.hdf5")
    obs = write_hdf5(path, 10, terminals_at=[2], timeouts_at=[6])
    trajs = load_hdf5(path)
    assert [len(t["rewards"]) for t in trajs] == [3, 4]  # steps 0-2 and 3-6; 7-9 have no end: dropped
    np.testing.assert_array_equal(trajs[1]["rewards"], [3, 4, 5, 6])
    np.testing.assert_array_equal(trajs[0]["terminals"], [0, 0, 1])
    np.testing.assert_array_equal(trajs[1]["timeouts"], [0, 0, 0, 1])
    np.testing.assert_array_equal(trajs[1]["terminals"], [0, 0, 0, 0])
    np.testing.assert_array_equal(trajs[0]["next_observations"], obs[:3] + 1000)  # the file's own
    assert trajs[0]["observations"].dtype == np.float32 and trajs[0]["actions"].shape == (3, 1)


def test_hdf5_without_next_observations_or_timeouts(tmp_path):
    path = str(tmp_path / "d.hdf5")
    obs = write_hdf5(path, 10, terminals_at=[1, 9], timeouts_at=[], next_obs=False, timeouts=False)
    trajs = load_hdf5(path, max_episode_steps=3)
    # next_obs[i] = obs[i + 1], so the last sample (9, the terminal) is dropped; fixed-length cuts every 3.
    assert [len(t["rewards"]) for t in trajs] == [2, 3, 3]
    np.testing.assert_array_equal(trajs[0]["next_observations"], obs[1:3])
    np.testing.assert_array_equal(trajs[1]["timeouts"], [0, 0, 1])


def test_hdf5_missing_or_bad_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_hdf5(str(tmp_path / "nope.hdf5"))
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(DatasetError, match="could not be read"):
        load_hdf5(str(bad))
    with pytest.raises(ValueError, match="missing key"):
        split_transitions({"observations": np.zeros((3, 1))})


# ------------------------------------------------------------------------ preprocessing
def test_drop_lowest_return_and_top_replay_fill():
    trajs = [traj(0, [3.0]), traj(1, [1.0, 0.0]), traj(2, [2.0]), traj(3, [5.0, 1.0]), traj(4, [0.5, 1.0])]
    data = pp.preprocess_trajectories(trajs)
    assert tags(data.trajectories) == [4, 2, 0, 3]  # ascending return, the lowest (tag 1, return 1) dropped
    buffer = ReplayBuffer(2, data.trajectories)
    assert tags(buffer.trajectories) == [0, 3]
    assert data.summary.num_trajectories == 4 and data.loaded_summary.num_trajectories == 5
    assert data.summary.num_transitions == 6 and data.summary.return_max == 6.0
    assert data.summary.length_min == 1 and data.summary.length_max == 2
    assert "4 trajectories, 6 transitions" in str(data.summary)


ANTMAZE = envs.get_spec("antmaze-umaze")


def test_reward_division_and_antmaze_shift_and_filter():
    one_step = [traj(100 + i, [1.0]) for i in range(15)]
    long = [traj(i, [0.0, 0.0, 1.0]) for i in range(3)]
    trajs = one_step[:5] + long[:1] + one_step[5:] + long[1:]
    data = pp.preprocess_trajectories(trajs, wrap_reward=ANTMAZE.wrap_reward, remove_trivial_trajs=True)
    kept = data.trajectories
    # First 9 one-step trajectories kept (returns 0 after the shift), long ones return -2; the
    # lowest-return drop then removes the first long one (stable order among ties).
    assert tags(kept) == [1.0, 2.0] + [100.0 + i for i in range(9)]
    assert all(t["rewards"].max() <= 0.0 for t in kept)  # {0, 1} -> {-1, 0}
    np.testing.assert_array_equal(sorted({float(r) for t in kept for r in t["rewards"]}), [-1.0, 0.0])
    # The filter runs before the statistics: the six dropped one-step states (tags 109-114) are excluded.
    states = np.concatenate([t["observations"] for t in one_step[:9] + long])
    np.testing.assert_allclose(data.state_mean, states.mean(0), rtol=1e-6)
    without_filter = pp.preprocess_trajectories(trajs, wrap_reward=ANTMAZE.wrap_reward, remove_trivial_trajs=False)
    assert len(without_filter.trajectories) == 17
    hammer = pp.preprocess_trajectories([traj(0, [1000.0, 500.0]), traj(1, [10.0])],
                                       wrap_reward=envs.get_spec("hammer-human").wrap_reward)
    np.testing.assert_allclose(hammer.trajectories[0]["rewards"], [1.0, 0.5])


def test_state_statistics_population_std_before_selection():
    rng = np.random.default_rng(0)
    trajs = []
    for i in range(4):
        t = traj(0, rng.normal(size=5) + i)
        t["observations"] = rng.normal(size=(5, 3)).astype(np.float32) * (i + 1)
        trajs.append(t)
    data = pp.preprocess_trajectories(trajs)
    states = np.concatenate([t["observations"] for t in trajs]).astype(np.float64)  # the dropped one included
    np.testing.assert_allclose(data.state_mean, states.mean(0), rtol=1e-5)
    np.testing.assert_allclose(data.state_std, states.std(0, ddof=0) + 1e-6, rtol=1e-5)
    assert data.state_mean.dtype == np.float32 and len(data.trajectories) == 3


def test_delayed_rewards():
    (out,) = pp.delay_rewards([traj(0, [1, 2, 3, 4, 5, 6, 7])], every=3)
    np.testing.assert_array_equal(out["rewards"], [0, 0, 6, 0, 0, 15, 7])
    (same,) = pp.delay_rewards([traj(0, [1, 2])], every=1)
    np.testing.assert_array_equal(same["rewards"], [1, 2])
    data = pp.preprocess_trajectories([traj(0, [1, 2, 3]), traj(1, [5, 5, 5, 5])], delayed_reward=2)
    np.testing.assert_array_equal(data.trajectories[-1]["rewards"], [0, 10, 0, 10])


# ------------------------------------------------------------------------ Minari (needs the registry)
envs = pytest.importorskip("vitamin_jax.envs")


@pytest.fixture
def minari_dir(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def test_generate_round_trip_through_stock_minari(minari_dir):
    import minari

    from vitamin_jax.data.generate import generate_dataset
    from vitamin_jax.data.loading import load_trajectories

    dataset_id = generate_dataset("hopper", policy="random", num_steps=300, seed=1, progress=False)
    assert dataset_id == "vitamin/hopper/random-v0"
    assert dataset_id in minari.list_local_datasets()
    stock = minari.load_dataset(dataset_id)
    assert stock.total_steps == 300
    loaded = load_trajectories("hopper-random")
    trajs = loaded.trajectories
    assert sum(len(t["rewards"]) for t in trajs) == 300 and len(trajs) == stock.total_episodes
    space = envs.make_env("hopper-random", raw=True).action_space
    actions = np.concatenate([t["actions"] for t in trajs])
    assert np.all(actions >= space.low) and np.all(actions <= space.high) and actions.std() > 0.3
    ends = [(t["terminals"][-1], t["timeouts"][-1]) for t in trajs]
    assert all(a + b == 1 for a, b in ends[:-1]) and ends[-1][1] == 1  # the last episode is cut at 300
    for t in trajs:
        np.testing.assert_array_equal(t["next_observations"][:-1], t["observations"][1:])
        assert t["terminals"][:-1].sum() == 0
    assert not list(minari_dir.glob(".vitamin-generate-*"))
    again = generate_dataset("hopper", num_steps=300, seed=1, progress=False, dataset_id="vitamin/hopper/copy-v0")
    np.testing.assert_array_equal(load_trajectories("hopper-random", minari_id=again).trajectories[0]["actions"],
                                  trajs[0]["actions"])  # seeded: same data
    with pytest.raises(DatasetError, match="already exists"):
        generate_dataset("hopper", num_steps=10, progress=False)


def test_failed_generation_leaves_no_dataset(minari_dir):
    from vitamin_jax.data.generate import RandomPolicy, generate_dataset

    class Failing(RandomPolicy):
        steps = 0

        def act(self, observation):
            Failing.steps += 1
            if Failing.steps == 150:
                raise RuntimeError("simulated crash")
            return super().act(observation)

    space = envs.make_env("hopper-random", raw=True).action_space
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_dataset("hopper", policy=Failing(space), num_steps=300, progress=False,
                         dataset_id="vitamin/hopper/failing-v0")
    assert not (minari_dir / "vitamin" / "hopper" / "failing-v0").exists()
    assert not list(minari_dir.glob(".vitamin-generate-*"))
    import minari

    assert "vitamin/hopper/failing-v0" not in minari.list_local_datasets()


def test_missing_dataset_message(minari_dir):
    from vitamin_jax.data.loading import load_trajectories

    with pytest.raises(DatasetError) as info:
        load_trajectories("hopper-random")
    message = str(info.value)
    assert "vitamin/hopper/random-v0" in message and str(minari_dir) in message
    assert "python -m vitamin_jax.data generate --env hopper --policy random --num-steps" in message
    assert "--config.dataset.path=" in message and "\n" not in message
    spec = envs.get_spec("pen-human")
    with pytest.raises(DatasetError) as info:
        load_trajectories("pen-human")
    message = str(info.value)
    assert spec.minari_id in message and f"minari download {spec.minari_id}" in message
    assert str(minari_dir) in message and "python -m vitamin_jax.data generate" in message


def test_corrupt_minari_dataset(minari_dir):
    from vitamin_jax.data.loading import load_trajectories

    data = minari_dir / "vitamin" / "hopper" / "random-v0" / "data"
    data.mkdir(parents=True)
    (data / "main_data.hdf5").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="could not be read"):
        load_trajectories("hopper-random")


def test_cli_missing_dataset_exits_without_traceback(minari_dir):
    env = {**os.environ, "MINARI_DATASETS_PATH": str(minari_dir), "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-m", "vitamin_jax.data", "summary", "vitamin/hopper/random-v0"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
    assert "vitamin/hopper/random-v0" in result.stderr and str(minari_dir) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
