"""Agent state and update steps: schedule, targets, coefficients, learning, compile-once."""

import jax
import numpy as np
import optax
import pytest

from vitamin_jax.agent import Learner, actor_optimizer
from vitamin_jax.algorithms import phase_coefficients
from vitamin_jax.configuration import load_config
from vitamin_jax.constants import ACTION_LIMIT
from vitamin_jax.types import Batch

S, A, K = 4, 2, 5


def tiny_config(algo="td3_odt", interval=2):
    config = load_config("configs/base.py")
    config.algo = algo
    config.model.embed_dim, config.model.n_layer, config.model.n_head = 32, 1, 2
    config.model.context_len = K
    config.critic.hidden_dims = (32, 32)
    if interval is not None:  # None: the algorithm's own interval
        config.rl.actor_update_interval = interval
    config.actor.warmup_steps = 10
    return config


def synthetic_batches(seed, leading, batch=16, terminal=True):
    """Actions are a fixed function of the state; rewards a fixed function of (s, a)."""
    rng = np.random.default_rng(seed)
    shape = tuple(leading) + (batch, K)
    states = rng.normal(size=shape + (S,)).astype(np.float32)
    actions = np.tanh(states[..., :A] - 0.5 * states[..., A:2 * A]).astype(np.float32) * 0.9
    rewards = (states[..., 0] * actions[..., 0] - actions[..., 1] ** 2).astype(np.float32)
    mask = np.ones(shape, np.float32)
    mask[..., 0, :2] = 0.0  # one left-padded sample per batch
    return Batch(
        states=states, actions=actions, next_states=rng.normal(size=shape + (S,)).astype(np.float32),
        rewards=rewards, dones=np.full(shape, 1.0 if terminal else 0.0, np.float32),
        rtg=rng.normal(size=shape[:-1] + (K + 1,)).astype(np.float32),
        timesteps=np.broadcast_to(np.arange(K, dtype=np.int32), shape).copy(), mask=mask,
    )


def make_learner(algo="td3_odt", interval=2, **overrides):
    config = tiny_config(algo, interval)
    for key, value in overrides.items():
        section, field = key.split(".")
        config[section][field] = value
    learner = Learner.from_config(config, S, A, critic_layer_norm=False)
    return config, learner, learner.init(jax.random.PRNGKey(0))


def test_phase_coefficients_per_algorithm():
    config = tiny_config()
    get = lambda algo, phase, rfs=False: tuple(
        float(v) for v in phase_coefficients(
            config.copy_and_resolve_references() if False else _with(config, algo, rfs), phase
        ).values()
    )
    assert get("td3_odt", "pretrain") == (1.0, 0.0)
    assert get("td3_odt", "online") == pytest.approx((1.0, 0.1))
    assert get("td3", "online") == pytest.approx((0.0, 0.1))
    assert get("odt", "online") == (1.0, 0.0)
    assert get("td3_odt", "pretrain", rfs=True) == pytest.approx((1.0, 0.1))  # AntMaze
    with pytest.raises(ValueError, match="unknown algo"):
        get("ppo", "online")


def _with(config, algo, rl_from_start):
    c = config.copy_and_resolve_references()
    c.algo, c.rl.rl_from_start = algo, rl_from_start
    return c


def test_update_schedule_counts_critic_and_actor_steps():
    config, learner, state = make_learner("td3_odt", interval=2)
    state, metrics = jax.jit(learner.update)(state, synthetic_batches(0, (2,)), phase_coefficients(config, "online"))
    assert int(state.critic_steps) == 2 and int(state.actor_steps) == 1
    assert {"critic_loss", "q_mean", "q_std", "actor_loss", "sup_loss", "rl_loss"} <= set(metrics)


def test_odt_trains_no_critic_and_learns_temperature():
    config, learner, state = make_learner("odt", interval=None)
    assert learner.actor_update_interval == 1 and learner.actor.stochastic
    new, metrics = jax.jit(learner.update)(state, synthetic_batches(0, (1,)), phase_coefficients(config, "online"))
    assert int(new.critic_steps) == 0 and int(new.actor_steps) == 1
    jax.tree.map(np.testing.assert_array_equal, new.critic_params, state.critic_params)
    assert float(new.log_temperature) != float(state.log_temperature)
    assert {"nll", "entropy", "temperature"} <= set(metrics)


def test_soft_target_update_after_actor_step():
    config, learner, state = make_learner("td3_odt", interval=1)
    new, _ = jax.jit(learner.update)(state, synthetic_batches(1, (1,)), phase_coefficients(config, "online"))
    tau = learner.tau
    expected = jax.tree.map(lambda n, o: tau * n + (1 - tau) * o, new.actor_params, state.actor_params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new.target_actor_params, expected)
    expected_c = jax.tree.map(lambda n, o: tau * n + (1 - tau) * o, new.critic_params, state.critic_params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new.target_critic_params, expected_c)
    synced = learner.sync_targets(new)
    jax.tree.map(np.testing.assert_array_equal, synced.target_actor_params, new.actor_params)


def test_target_actions_come_from_target_actor_on_shifted_window():
    config, learner, state = make_learner("td3_odt", interval=1, **{"rl.policy_noise": 0.0})
    batch = jax.tree.map(lambda x: x[0], synthetic_batches(2, (1,)))
    # Make the live actor differ from the target: the target must be used.
    state = state.replace(actor_params=jax.tree.map(lambda p: p + 0.5, state.actor_params))
    got, _ = learner.algo.critic_target.next_actions(learner.networks, state, batch, jax.random.PRNGKey(0))
    next_actions = np.concatenate([batch.actions[:, 1:], np.zeros_like(batch.actions[:, :1])], axis=1)
    expected = learner.actor.apply(
        state.target_actor_params, batch.next_states, next_actions, batch.rtg[:, 1:],
        np.concatenate([batch.timesteps[:, 1:], batch.timesteps[:, -1:] + 1], 1), np.ones_like(batch.mask),
        deterministic=True,
    ).action
    np.testing.assert_allclose(got, np.clip(expected, -ACTION_LIMIT, ACTION_LIMIT), rtol=1e-5, atol=1e-6)


def test_update_compiles_once_across_calls_and_phases():
    config, learner, state = make_learner("td3_odt", interval=2)
    update = jax.jit(learner.update)
    for i, phase in enumerate(["pretrain", "pretrain", "online", "online"]):
        state, _ = update(state, synthetic_batches(i, (2,)), phase_coefficients(config, phase))
    assert update._cache_size() == 1


def test_scanned_updates_equal_sequential_updates():
    config, learner, state = make_learner("td3_odt", interval=2)
    coeffs = phase_coefficients(config, "online")
    batches = synthetic_batches(3, (3, 2))
    scanned, scanned_metrics = jax.jit(learner.update_many)(state, batches, coeffs)
    update = jax.jit(learner.update)
    sequential = state
    for u in range(3):
        sequential, metrics = update(sequential, jax.tree.map(lambda x: x[u], batches), coeffs)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6), scanned, sequential)
    np.testing.assert_allclose(scanned_metrics["critic_loss"][-1], metrics["critic_loss"], rtol=1e-5)


@pytest.mark.parametrize("algo", ["td3_odt", "odt"])
def test_a_few_hundred_updates_fit_a_synthetic_regression(algo):
    config, learner, state = make_learner(algo, interval=1, **{"model.dropout": 0.0, "actor.learning_rate": 1e-3})
    coeffs = phase_coefficients(config, "pretrain")  # supervised actor, critic still trains
    run = jax.jit(learner.update_many)
    first_key = "sup_loss"
    losses = []
    for chunk in range(4):
        state, metrics = run(state, synthetic_batches(10 + chunk, (75, 1)), coeffs)
        losses.append(metrics)
    first = np.mean(losses[0][first_key][:10])
    last = np.mean(losses[-1][first_key][-10:])
    assert last < first - (0.5 * abs(first) if algo == "td3_odt" else 1.0), (first, last)
    if algo == "td3_odt":  # terminal rewards: the critic regresses r(s, a)
        assert np.mean(losses[-1]["critic_loss"][-10:]) < 0.5 * np.mean(losses[0]["critic_loss"][:10])


def test_lamb_step_matches_numpy_reference():
    """One actor optimiser step vs the original's LAMB math (clip 0.25, warmup, trust ratio)."""
    lr, wd, warmup, eps = 1e-2, 5e-4, 100, 1e-8
    tx = actor_optimizer(lr, wd, warmup, 0.25, eps)
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": rng.normal(size=(4,)).astype(np.float32)}
    grads = {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": rng.normal(size=(4,)).astype(np.float32)}
    updates, _ = tx.update(grads, tx.init(params), params)
    new = optax.apply_updates(params, updates)

    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads.values()))
    scale = min(1.0, 0.25 / norm)
    step_lr = lr * min(1 / warmup, 1.0)
    for k in params:
        g = grads[k] * scale
        m, v = 0.1 * g, 0.001 * g**2
        u = (m / 0.1) / (np.sqrt(v) / np.sqrt(0.001) + eps) + wd * params[k]
        ratio = np.linalg.norm(params[k]) / np.linalg.norm(u)
        np.testing.assert_allclose(new[k], params[k] - step_lr * ratio * u, rtol=1e-4, atol=1e-7)
