"""Registry, wrappers, toy MDP and D4RL scores."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from vitamin_jax import envs
from vitamin_jax.envs.wrappers import DelayedReward


@pytest.mark.parametrize("name", envs.dataset_names())
def test_every_registry_entry_builds_and_steps(name):
    spec = envs.get_spec(name)
    try:
        env = envs.make_env(name, seed=0)
    except gym.error.NameNotFound as e:  # pragma: no cover - depends on gymnasium-robotics
        pytest.skip(f"{spec.env_id} is not in this gymnasium-robotics: {e}")
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == env.observation_space.shape and np.isfinite(reward)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    env.close()


@pytest.mark.parametrize("name, check", [
    ("hammer-human", lambda raw, wrapped: np.allclose(wrapped, raw / 1000.0)),
    ("pen-human", lambda raw, wrapped: np.allclose(wrapped, raw / 100.0)),
    ("antmaze-umaze", lambda raw, wrapped: np.allclose(wrapped, raw - 1.0)),
    ("hopper-medium", lambda raw, wrapped: np.allclose(wrapped, raw)),
])
def test_reward_transform_matches_raw_env(name, check):
    raw_env, env = envs.make_env(name, seed=1, raw=True), envs.make_env(name, seed=1)
    raw_env.reset(seed=3)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    raw_rewards, rewards = [], []
    for _ in range(5):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        raw_rewards.append(raw_env.step(action)[1])
        rewards.append(env.step(action)[1])
    assert check(np.array(raw_rewards), np.array(rewards))


def test_goal_observation_is_flattened_in_fixed_order():
    obs = {"desired_goal": np.array([5.0, 6.0]), "observation": np.array([1.0, 2.0, 3.0]),
           "achieved_goal": np.array([4.0, 4.5])}
    np.testing.assert_array_equal(envs.flatten_observation(obs), [1, 2, 3, 4, 4.5, 5, 6])
    batched = {k: np.stack([v, v + 10]) for k, v in obs.items()}
    assert envs.flatten_observation(batched).shape == (2, 7)
    env = envs.make_env("antmaze-umaze", seed=0)
    flat, _ = env.reset(seed=0)
    raw_env = envs.make_env("antmaze-umaze", raw=True)
    raw, _ = raw_env.reset(seed=0)
    np.testing.assert_allclose(flat, envs.flatten_observation(raw))
    np.testing.assert_allclose(flat[-2:], raw["desired_goal"])


def test_delayed_reward_keeps_totals_and_pays_every_m_steps():
    env = DelayedReward(gym.make("Hopper-v5", max_episode_steps=23), every=5)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    paid, single = [], []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 3))
        paid.append(reward)
        single.append(info["single_reward"])
        done = terminated or truncated
    paid = np.array(paid)
    np.testing.assert_allclose(paid.sum(), np.sum(single), rtol=1e-9)
    steps = np.arange(1, len(paid) + 1)
    assert np.all(paid[(steps % 5 != 0) & (steps != len(paid))] == 0.0)
    assert np.all(paid[steps % 5 == 0] != 0.0)


def test_normalized_score_is_d4rl():
    assert envs.normalized_score("hopper-medium", 3234.3) == pytest.approx(100.0)
    assert envs.normalized_score("hopper-random", -20.272305) == pytest.approx(0.0)
    assert envs.normalized_score("halfcheetah-random", 0.0) == pytest.approx(
        100 * 280.178953 / (12135.0 + 280.178953))
    np.testing.assert_allclose(envs.normalized_score("antmaze-umaze", np.array([0.0, 1.0])), [0.0, 100.0])
    assert envs.success_rate("antmaze-umaze", [0.0, 1.0, 2.0, 0.0]) == 0.5


def test_toy_env_passes_gymnasium_checks_and_has_the_paper_reward():
    env = gym.make("vitamin/SingleStateToy-v0").unwrapped
    check_env(env, skip_render_check=True)
    for a, r in [(-1.0, 0.0), (-0.5, 0.25), (0.0, 1.0), (0.5, 0.0), (1.0, -1.0)]:
        env.reset(seed=0)
        _, reward, terminated, _, _ = env.step(np.array([a], np.float32))
        assert reward == pytest.approx(r) and terminated
    data = envs.toy_dataset(59)
    actions = np.array([t["actions"][0, 0] for t in data])
    assert len(data) == 128 and np.sum((actions > -1) & (actions < -0.95)) == 100
    assert np.sum((actions > 0.5) & (actions < 1.0)) == 28
    np.testing.assert_allclose([t["rewards"][0] for t in data], envs.toy_reward(actions), rtol=1e-6)


def test_spec_lookup_accepts_versions_and_suggests_names():
    assert envs.get_spec("hopper-medium-v2").name == "hopper-medium"
    assert envs.get_spec("pen-human-v1").reward_divisor == 100.0
    assert envs.get_spec("door-human").reward_scale == 0.001  # as the original
    assert envs.get_spec("maze2d-open").reward_divisor == 1.0  # the original's env-only /100 not copied
    with pytest.raises(envs.UnknownDatasetError, match="halfcheetah-medium"):
        envs.get_spec("halfcheeta-medium")
