"""Tanh-squashed diagonal Gaussian: the ODT stochastic policy's log-likelihood and sampling.

log pi(a) = sum_dims [log N(x; mu, std) - 2 (log 2 - x - softplus(-2x))] with x = atanh(a).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_abs_det_jacobian(x: jax.Array) -> jax.Array:
    """log |d tanh(x) / dx|, numerically stable."""
    return 2.0 * (math.log(2.0) - x - jax.nn.softplus(-2.0 * x))


def _pre_tanh_log_prob(x: jax.Array, mu: jax.Array, log_std: jax.Array) -> jax.Array:
    z = (x - mu) * jnp.exp(-log_std)
    normal = -0.5 * z**2 - log_std - _LOG_SQRT_2PI
    return jnp.sum(normal - _log_abs_det_jacobian(x), axis=-1)


def atanh(y: jax.Array) -> jax.Array:
    return 0.5 * (jnp.log1p(y) - jnp.log1p(-y))


def log_likelihood(actions: jax.Array, mu: jax.Array, log_std: jax.Array) -> jax.Array:
    """log pi(actions) [...] for squashed actions [..., A] (clip them inside (-1, 1) first)."""
    return _pre_tanh_log_prob(atanh(actions), mu, log_std)


def sample(key: jax.Array, mu: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised sample: (action [..., A], log pi(action) [...])."""
    x = mu + jnp.exp(log_std) * jax.random.normal(key, mu.shape, mu.dtype)
    return jnp.tanh(x), _pre_tanh_log_prob(x, mu, log_std)


def entropy_estimate(key: jax.Array, mu: jax.Array, log_std: jax.Array) -> jax.Array:
    """One-sample reparameterised entropy estimate -log pi(a), a ~ pi (as the original)."""
    return -sample(key, mu, log_std)[1]
