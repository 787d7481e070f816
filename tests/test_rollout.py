"""Rollout worker: context windows, episode bookkeeping, evaluation determinism, one compile."""

import gymnasium as gym
import jax
import numpy as np
import pytest

from vitamin_jax.networks import DecisionTransformer
from vitamin_jax.rollout import ContextWindows, RolloutWorker


class ShortEpisodes(gym.Env):
    """Episodes of 3-5 steps (drawn at reset); reward = 1 - a^2, observation = (t, 1)."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, int(self.np_random.integers(3, 6))
        return np.array([0.0, 1.0], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, 1.0], np.float32)
        return obs, float(1.0 - action[0] ** 2), self.t >= self.length, False, {}


def test_context_windows_keep_last_steps_left_padded():
    w = ContextWindows(num_envs=1, context_len=4, keep=2, state_dim=1, act_dim=1)
    for t in range(3):
        w.push(np.array([[10.0 + t]]), np.array([5.0 - t]), t)
        w.set_last_action(np.array([[0.1 * (t + 1)]]))
    np.testing.assert_array_equal(w.states[0, :, 0], [0, 0, 11, 12])
    np.testing.assert_allclose(w.actions[0, :, 0], [0, 0, 0.2, 0.3])
    np.testing.assert_array_equal(w.rtg[0], [0, 0, 4, 3])
    np.testing.assert_array_equal(w.timesteps[0], [0, 0, 1, 2])
    np.testing.assert_array_equal(w.mask[0], [0, 0, 1, 1])
    w2 = ContextWindows(1, 4, 4, 1, 1)
    w2.push(np.array([[7.0]]), np.array([1.0]), 0)
    np.testing.assert_array_equal(w2.mask[0], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="eval_context_length"):
        ContextWindows(1, 4, 5, 1, 1)


def make_worker(explore, noise=0.1, num_envs=3, stochastic=False):
    actor = DecisionTransformer(2, 1, embed_dim=16, n_layer=1, n_head=2, stochastic=stochastic)
    worker = RolloutWorker(
        ShortEpisodes, num_envs, actor, context_len=4, eval_context_length=2, state_mean=np.zeros(2),
        state_std=np.ones(2), reward_scale=0.5, raw_reward=lambda r: r * 10.0, max_episode_steps=10,
        explore=explore, expl_noise=noise,
    )
    x = np.zeros((1, 4, 2), np.float32), np.zeros((1, 4, 1), np.float32)
    params = actor.init(jax.random.PRNGKey(0), x[0], x[1], np.zeros((1, 4)), np.zeros((1, 4), np.int32),
                        np.ones((1, 4)), deterministic=True)
    return worker, params


def test_one_episode_per_env_with_consistent_trajectories():
    worker, params = make_worker(explore=True)
    result = worker.run(params, target_return=3.0, seed=(7,), key=jax.random.PRNGKey(1))
    assert len(result.trajectories) == 3
    for traj, length, ret, raw in zip(result.trajectories, result.lengths, result.returns, result.raw_returns):
        assert 3 <= length <= 5 and len(traj["rewards"]) == length
        np.testing.assert_allclose(traj["rewards"], 1.0 - traj["actions"][:, 0] ** 2, rtol=1e-5)
        np.testing.assert_array_equal(traj["observations"][:, 0], np.arange(length))
        np.testing.assert_array_equal(traj["next_observations"][:, 0], np.arange(1, length + 1))
        np.testing.assert_array_equal(traj["terminals"], np.eye(length)[-1])  # the original's last = 1
        assert np.all(np.abs(traj["actions"]) < 1.0)
        np.testing.assert_allclose(ret, traj["rewards"].sum(), rtol=1e-5)
        np.testing.assert_allclose(raw, 10.0 * ret, rtol=1e-5)
    assert result.num_transitions == sum(result.lengths)


def test_evaluation_is_deterministic_and_exploration_is_not():
    evaluator, params = make_worker(explore=False)
    a = evaluator.run(params, 3.0, seed=(1,), key=jax.random.PRNGKey(0))
    b = evaluator.run(params, 3.0, seed=(1,), key=jax.random.PRNGKey(99))  # the key must not matter
    for ta, tb in zip(a.trajectories, b.trajectories):
        np.testing.assert_array_equal(ta["actions"], tb["actions"])
    explorer, _ = make_worker(explore=True, noise=0.3)
    c = explorer.run(params, 3.0, seed=(1,), key=jax.random.PRNGKey(0))
    diff = [np.abs(tc["actions"] - ta["actions"]).max() for tc, ta in zip(c.trajectories, a.trajectories)]
    assert max(diff) > 1e-3
    # No recompilation across calls with different seeds and keys.
    assert evaluator.act._cache_size() == 1 and explorer.act._cache_size() == 1


def test_stochastic_actor_samples_online_and_uses_mean_in_evaluation():
    evaluator, params = make_worker(explore=False, stochastic=True, num_envs=2)
    explorer, _ = make_worker(explore=True, stochastic=True, num_envs=2)
    a = evaluator.run(params, 3.0, seed=(2,), key=jax.random.PRNGKey(0))
    b = evaluator.run(params, 3.0, seed=(2,), key=jax.random.PRNGKey(5))
    np.testing.assert_array_equal(a.trajectories[0]["actions"], b.trajectories[0]["actions"])
    c = explorer.run(params, 3.0, seed=(2,), key=jax.random.PRNGKey(0))
    d = explorer.run(params, 3.0, seed=(2,), key=jax.random.PRNGKey(5))
    assert np.abs(c.trajectories[0]["actions"][:3] - d.trajectories[0]["actions"][:3]).max() > 1e-4


def test_seeds_in_lockstep_equal_separate_runs():
    single, params = make_worker(explore=True, num_envs=2)
    actor = single.actor
    x = np.zeros((1, 4, 2), np.float32), np.zeros((1, 4, 1), np.float32)
    other = actor.init(jax.random.PRNGKey(1), x[0], x[1], np.zeros((1, 4)), np.zeros((1, 4), np.int32),
                       np.ones((1, 4)), deterministic=True)
    grouped = RolloutWorker(
        ShortEpisodes, 2, actor, context_len=4, eval_context_length=2, state_mean=np.zeros(2), state_std=np.ones(2),
        reward_scale=0.5, raw_reward=lambda r: r * 10.0, max_episode_steps=10, explore=True, num_seeds=2)
    stacked = jax.tree.map(lambda a, b: np.stack([a, b]), params, other)
    keys = np.stack([jax.random.PRNGKey(3), jax.random.PRNGKey(4)])
    results = grouped.run_seeds(stacked, 3.0, [(10,), (11,)], keys)
    for s, p in enumerate((params, other)):
        alone = single.run(p, 3.0, seed=(10 + s,), key=keys[s])
        for ta, tb in zip(results[s].trajectories, alone.trajectories):
            np.testing.assert_allclose(ta["actions"], tb["actions"], rtol=1e-5, atol=1e-6)


def test_device_windows_are_the_host_windows_and_the_action_is_select_action():
    """action_step pushes exactly as ContextWindows.push and picks select_action's action."""
    from vitamin_jax.rollout import DeviceWindows, action_step, select_action

    worker, params = make_worker(explore=True, noise=0.2, num_envs=2)
    step = action_step(worker.actor, 2)
    host = ContextWindows(2, 4, 2, 2, 1)
    device = jax.device_put(DeviceWindows.zeros((1, 2), 4, 2, 1))
    keys = jax.device_put(jax.random.PRNGKey(5)[None])
    stacked = jax.tree.map(lambda x: x[None], params)
    rng = np.random.default_rng(0)
    for t in range(5):
        states, rtg = rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
        host.push(states, rtg, t)
        expected_key, step_key = jax.random.split(keys[0])
        expected = select_action(worker.actor, params, host.states, host.actions, host.rtg, host.timesteps,
                                 host.mask, step_key, explore=True, expl_noise=0.2)
        device, keys, action = step(stacked, device, states[None], rtg[None], t, keys, True, 0.2)
        host.set_last_action(np.asarray(action[0]))
        np.testing.assert_allclose(action[0], expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(keys[0], expected_key)
        for name in ("states", "actions", "rtg", "timesteps"):
            np.testing.assert_array_equal(getattr(device, name)[0], getattr(host, name), err_msg=f"{name} at t={t}")
    np.testing.assert_array_equal(host.mask, [[0, 0, 1, 1]] * 2)


def test_after_the_first_call_no_rollout_or_evaluation_call_compiles():
    from vitamin_jax.timing import CompileCounter

    counter = CompileCounter()
    explorer, params = make_worker(explore=True, num_envs=7)  # a shape no other test compiles
    evaluator, _ = make_worker(explore=False, num_envs=7)
    with counter.counting():
        explorer.run(params, 3.0, seed=(1,), key=jax.random.PRNGKey(0))
    assert counter.compiles >= 1  # the first call compiles the step (the counter can see a compile)
    for worker, seed in ((explorer, 2), (evaluator, 3), (explorer, 4), (evaluator, 5)):
        key = jax.random.PRNGKey(seed)
        with counter.counting():
            worker.run(params, 3.0, seed=(seed,), key=key)
        assert (counter.traces, counter.compiles) == (0, 0), f"call with seed {seed}"
    assert explorer.act is evaluator.act  # collection and evaluation share one compiled step
