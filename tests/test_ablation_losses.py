"""Losses of the ablation algorithms (DDPG, SAC, IQL, AWAC) against NumPy, and a few updates each."""

import jax
import numpy as np
import pytest

from vitamin_jax import losses
from vitamin_jax.algorithms import ALGORITHMS, phase_coefficients
from vitamin_jax.configuration import load_config

from test_agent import make_learner, synthetic_batches

B, K = 4, 6


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def left_padded_mask(rng):
    lengths = rng.integers(1, K + 1, size=B)
    return (np.arange(K)[None] >= (K - lengths)[:, None]).astype(np.float32)


def test_soft_td_target(rng):
    r, d = rng.normal(size=(B, K)).astype(np.float32), rng.integers(0, 2, (B, K)).astype(np.float32)
    q = rng.normal(size=(2, B, K)).astype(np.float32)
    logp = rng.normal(size=(B, K)).astype(np.float32)
    expected = r + 0.99 * (1 - d) * (np.minimum(q[0], q[1]) - 0.2 * logp)
    np.testing.assert_allclose(losses.soft_td_target(r, d, q, logp, 0.2, 0.99), expected, rtol=1e-5)


def test_value_td_target(rng):
    r, d, v = rng.normal(size=(3, B, K)).astype(np.float32)
    np.testing.assert_allclose(losses.value_td_target(r, d, v, 0.9), r + 0.9 * (1 - d) * v, rtol=1e-6)


def test_expectile_loss(rng):
    diff = rng.normal(size=(B, K)).astype(np.float32)
    weight = np.where(diff < 0, 0.3, 0.7)
    np.testing.assert_allclose(losses.expectile_loss(diff, 0.7), np.mean(weight * diff**2), rtol=1e-5)


def test_sac_actor_rl_loss(rng):
    q, ent = rng.normal(size=(2, B, K)).astype(np.float32)
    mask = left_padded_mask(rng)
    expected = (-(0.3 * ent + q))[mask > 0].mean()
    np.testing.assert_allclose(losses.sac_actor_rl_loss(q, ent, np.float32(0.3), mask), expected, rtol=1e-5)


def test_iql_and_awac_weights(rng):
    adv = 3 * rng.normal(size=(B, K)).astype(np.float32)
    np.testing.assert_allclose(losses.iql_weights(adv, 3.0, 100.0), np.minimum(np.exp(3 * adv), 100), rtol=1e-5)
    np.testing.assert_allclose(losses.awac_weights(adv, 2.0, 20.0, False), np.minimum(np.exp(adv / 2), 20), rtol=1e-5)
    soft = np.exp(adv / 2 - (adv / 2).max())
    np.testing.assert_allclose(losses.awac_weights(adv, 2.0, 20.0, True), soft / soft.sum(), rtol=1e-5)


def test_weighted_log_likelihood_and_normalized_coefficient(rng):
    w, logp, q = rng.normal(size=(3, B, K)).astype(np.float32)
    mask = left_padded_mask(rng)
    np.testing.assert_allclose(losses.weighted_log_likelihood_loss(w, logp, mask), (-w * logp)[mask > 0].mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(losses.normalized_rl_coeff(0.1, q), 0.1 / np.abs(q).mean(), rtol=1e-5)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_runs_a_few_updates(algo):
    free_interval = ALGORITHMS[algo](load_config("configs/base.py")).actor_update_interval is None
    config, learner, state = make_learner(algo, interval=2 if free_interval else None,
                                          **{"rl.normalized_rl_coeff": algo == "sac_odt"})
    coeffs = phase_coefficients(config, "online")
    interval = learner.actor_update_interval
    assert interval == (2 if algo in ("td3_odt", "td3") else 1)
    new, metrics = jax.jit(learner.update_many)(state, synthetic_batches(0, (3, interval)), coeffs)
    assert int(new.actor_steps) == 3
    for name, value in metrics.items():
        assert np.all(np.isfinite(np.asarray(value))), (algo, name)
    spec = learner.algo
    assert ("rl_loss" in metrics) and (np.abs(metrics["rl_loss"]).max() > 0) == (spec.rl_term is not None)
    if spec.value_head:
        assert "value_net" in state.critic_params["params"] and "value_loss" in metrics
    if spec.learns_temperature:
        assert float(new.log_temperature) != float(state.log_temperature)
