"""Each loss against an independent NumPy reference on random inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vitamin_jax import distributions, losses
from vitamin_jax.types import Batch

B, K, A, S = 4, 6, 3, 5


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_mask(rng):
    lengths = rng.integers(1, K + 1, size=B)
    return (np.arange(K)[None] >= (K - lengths)[:, None]).astype(np.float32)  # left padding


def test_masked_mse_matches_numpy(rng):
    pred, target = rng.normal(size=(2, B, K, A)).astype(np.float32)
    mask = random_mask(rng)
    valid = mask > 0
    expected = np.mean((pred[valid] - target[valid]) ** 2)
    np.testing.assert_allclose(losses.mse_loss(pred, target, mask), expected, rtol=1e-5)


def test_odt_loss_matches_numpy(rng):
    ll, ent = rng.normal(size=(2, B, K)).astype(np.float32)
    mask = random_mask(rng)
    temperature = 0.37
    loss, aux = losses.odt_loss(ll, ent, mask, jnp.float32(temperature))
    expected_ll = ll[mask > 0].mean()
    expected_ent = ent.mean()  # entropy over all positions, padding included (quirk 7)
    np.testing.assert_allclose(loss, -(expected_ll + temperature * expected_ent), rtol=1e-5)
    np.testing.assert_allclose(aux["nll"], -expected_ll, rtol=1e-5)
    np.testing.assert_allclose(aux["entropy"], expected_ent, rtol=1e-5)


def test_odt_loss_does_not_differentiate_temperature(rng):
    ll, ent = rng.normal(size=(2, B, K)).astype(np.float32)
    grad = jax.grad(lambda t: losses.odt_loss(ll, ent, np.ones((B, K)), t)[0])(jnp.float32(0.5))
    assert float(grad) == 0.0


def test_temperature_loss_value_and_gradient():
    log_t, entropy, target = np.log(0.2), 1.5, -3.0
    value, grad = jax.value_and_grad(losses.temperature_loss)(jnp.float32(log_t), jnp.float32(entropy), target)
    np.testing.assert_allclose(value, 0.2 * (1.5 + 3.0), rtol=1e-6)
    np.testing.assert_allclose(grad, 0.2 * (1.5 + 3.0), rtol=1e-6)  # d/dlogT of e^logT x const


def test_td_target_matches_numpy(rng):
    rewards = rng.normal(size=(B, K)).astype(np.float32)
    dones = rng.integers(0, 2, size=(B, K)).astype(np.float32)
    next_q = rng.normal(size=(2, B, K)).astype(np.float32)
    expected = rewards + 0.99 * (1 - dones) * np.minimum(next_q[0], next_q[1])
    np.testing.assert_allclose(losses.td_target(rewards, dones, next_q, 0.99), expected, rtol=1e-6)


def test_critic_loss_divides_by_all_positions(rng):
    q = rng.normal(size=(2, B, K)).astype(np.float32)
    target = rng.normal(size=(B, K)).astype(np.float32)
    mask = random_mask(rng)
    expected = (((q[0] - target) ** 2 + (q[1] - target) ** 2) * mask).sum() / (B * K)
    np.testing.assert_allclose(losses.critic_loss(q, target, mask), expected, rtol=1e-5)


def test_actor_rl_loss_is_masked_mean_of_minus_q(rng):
    q = rng.normal(size=(B, K)).astype(np.float32)
    mask = random_mask(rng)
    np.testing.assert_allclose(losses.actor_rl_loss(q, mask), -q[mask > 0].mean(), rtol=1e-5)


def test_combined_actor_loss():
    np.testing.assert_allclose(losses.combined_actor_loss(2.0, -3.0, 1.0, 0.1), 2.0 - 0.3, rtol=1e-6)


def test_smoothed_target_action_clips_noise_and_range(rng):
    action = rng.uniform(-1, 1, size=(B, K, A)).astype(np.float32)
    eps = 4 * rng.normal(size=(B, K, A)).astype(np.float32)
    limit = 1 - 1e-6
    expected = np.clip(action + np.clip(0.2 * eps, -0.5, 0.5), -limit, limit)
    got = losses.smoothed_target_action(action, eps, 0.2, 0.5, limit)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_next_step_inputs_shift_by_hand():
    """The TD3 target's window: next states, actions shifted left + zero, rtg[1:], t + 1."""
    states = np.arange(1 * 3 * 1, dtype=np.float32).reshape(1, 3, 1)
    batch = Batch(
        states=states,
        actions=np.array([[[0.0], [0.1], [0.2]]], np.float32),
        next_states=states + 100,
        rewards=np.zeros((1, 3), np.float32),
        dones=np.zeros((1, 3), np.float32),
        rtg=np.array([[5.0, 4.0, 3.0, 2.0]], np.float32),
        timesteps=np.array([[0, 7, 8]], np.int32),
        mask=np.array([[0.0, 1.0, 1.0]], np.float32),
    )
    s, a, r, t, m = losses.next_step_inputs(batch, "faithful")
    np.testing.assert_array_equal(s, batch.next_states)
    np.testing.assert_array_equal(a[0, :, 0], np.array([0.1, 0.2, 0.0], np.float32))
    np.testing.assert_array_equal(r, [[4.0, 3.0, 2.0]])
    np.testing.assert_array_equal(t, [[7, 8, 9]])
    np.testing.assert_array_equal(m, [[1.0, 1.0, 1.0]])  # the original attends to padding
    *_, fixed_mask = losses.next_step_inputs(batch, "fixed")
    np.testing.assert_array_equal(fixed_mask, batch.mask)
    with pytest.raises(ValueError, match="target_masking"):
        losses.next_step_inputs(batch, "other")


def test_squashed_normal_log_likelihood_matches_change_of_variables(rng):
    mu = rng.normal(size=(B, K, A)).astype(np.float32)
    log_std = rng.uniform(-2, 1, size=(B, K, A)).astype(np.float32)
    actions = rng.uniform(-0.99, 0.99, size=(B, K, A)).astype(np.float32)
    x = np.arctanh(actions.astype(np.float64))
    std = np.exp(log_std)
    normal = -0.5 * ((x - mu) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    expected = (normal - np.log(1 - actions.astype(np.float64) ** 2)).sum(-1)
    got = distributions.log_likelihood(actions, mu, log_std)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_squashed_normal_sample_log_prob_is_consistent(rng):
    mu = rng.normal(size=(B, K, A)).astype(np.float32)
    log_std = rng.uniform(-1, 0, size=(B, K, A)).astype(np.float32)
    action, logp = distributions.sample(jax.random.PRNGKey(0), mu, log_std)
    assert np.all(np.abs(action) < 1)
    np.testing.assert_allclose(logp, distributions.log_likelihood(action, mu, log_std), rtol=1e-3, atol=1e-3)
    entropy = distributions.entropy_estimate(jax.random.PRNGKey(0), mu, log_std)
    np.testing.assert_allclose(entropy, -logp, rtol=1e-6)
