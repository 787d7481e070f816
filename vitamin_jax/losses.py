"""Losses, one pure function each (docs/design.md#td3odt; the masking:
docs/faithfulness.md#loss-normalisation).

Shapes: B batch, K context, A action dims, N critics. `mask` [B, K] is 1 for real steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vitamin_jax.types import Batch


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of x [B, K] over positions where mask [B, K] is 1."""
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def mse_loss(pred: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """Masked MSE [B, K, A] -> scalar, averaged over valid positions and action dims."""
    per_position = jnp.mean(jnp.square(pred - target), axis=-1)
    return masked_mean(per_position, mask)


def odt_loss(
    log_likelihood: jax.Array, entropy: jax.Array, mask: jax.Array, temperature: jax.Array
) -> tuple[jax.Array, dict]:
    """ODT loss = -(masked-mean log-likelihood + T x entropy), T not differentiated.

    The log-likelihood is a masked mean but the entropy is averaged over *all* B x K
    positions, padding included, as in the original.
    """
    ll = masked_mean(log_likelihood, mask)
    ent = jnp.mean(entropy)
    loss = -(ll + jax.lax.stop_gradient(temperature) * ent)
    return loss, {"nll": -ll, "entropy": ent}


def temperature_loss(log_temperature: jax.Array, entropy: jax.Array, target_entropy: float) -> jax.Array:
    """T x (H - target_entropy) with the entropy stopped: raises T when H < target."""
    return jnp.exp(log_temperature) * jax.lax.stop_gradient(entropy - target_entropy)


def next_step_inputs(batch: Batch, masking: str) -> tuple[jax.Array, ...]:
    """Inputs of the target actor for s_{t+1}: the window shifted left by one step.

    Returns states [B, K, S] = next_states, actions [B, K, A] = actions[:, 1:] with zeros
    appended, rtg [B, K] = rtg[:, 1:], timesteps [B, K] = timesteps + 1 (shifted), and the
    attention mask: 'faithful' attends to everything (the original's all-ones mask, which
    sees the batch's left padding); 'fixed' uses the sample's own padding mask.
    """
    actions = jnp.concatenate([batch.actions[:, 1:], jnp.zeros_like(batch.actions[:, :1])], axis=1)
    timesteps = jnp.concatenate([batch.timesteps[:, 1:], batch.timesteps[:, -1:] + 1], axis=1)
    if masking == "faithful":
        mask = jnp.ones_like(batch.mask)
    elif masking == "fixed":
        mask = batch.mask
    else:
        raise ValueError(f"target_masking must be 'faithful' or 'fixed', got {masking!r}")
    return batch.next_states, actions, batch.rtg[:, 1:], timesteps, mask


def smoothed_target_action(
    action: jax.Array, standard_normal: jax.Array, policy_noise: float, noise_clip: float, action_limit: float
) -> jax.Array:
    """TD3 target policy smoothing: a' = clip(a + clip(sigma x eps, -c, c), range), eps ~ N(0, 1)."""
    noise = jnp.clip(policy_noise * standard_normal, -noise_clip, noise_clip)
    return jnp.clip(action + noise, -action_limit, action_limit)


def td_target(rewards: jax.Array, dones: jax.Array, next_q: jax.Array, gamma: float) -> jax.Array:
    """y = r + gamma (1 - done) min_i Q'_i(s', a'). next_q [N, B, K] -> y [B, K]."""
    return rewards + gamma * (1.0 - dones) * jnp.min(next_q, axis=0)


def critic_loss(q: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """Sum over critics of squared TD errors, masked, divided by all B x K positions.

    q [N, B, K], target [B, K]. Not a masked mean: the original divides by B x K.
    """
    squared = jnp.sum(jnp.square(q - target[None]), axis=0)
    return jnp.mean(squared * mask)


def actor_rl_loss(q: jax.Array, mask: jax.Array) -> jax.Array:
    """-Q at the actor's actions, masked mean over positions. q [B, K]."""
    return masked_mean(-q, mask)


def combined_actor_loss(sup: jax.Array, rl: jax.Array, sup_coeff: jax.Array, rl_coeff: jax.Array) -> jax.Array:
    """Eq. 2 of the paper: sup_coeff x supervised + alpha x RL."""
    return sup_coeff * sup + rl_coeff * rl


# ----------------------------------------------------------------- ablation algorithms


def soft_td_target(
    rewards: jax.Array, dones: jax.Array, next_q: jax.Array, next_log_prob: jax.Array, temperature: jax.Array,
    gamma: float,
) -> jax.Array:
    """SAC/AWAC: y = r + gamma (1 - done) (min_i Q'_i(s', a') - T log pi'(a' | s'))."""
    return rewards + gamma * (1.0 - dones) * (jnp.min(next_q, axis=0) - temperature * next_log_prob)


def value_td_target(rewards: jax.Array, dones: jax.Array, next_value: jax.Array, gamma: float) -> jax.Array:
    """IQL: y = r + gamma (1 - done) V'(s')."""
    return rewards + gamma * (1.0 - dones) * next_value


def expectile_loss(diff: jax.Array, expectile: float) -> jax.Array:
    """IQL value loss: mean over all positions of |tau - 1[diff < 0]| diff^2 (unmasked, as the original)."""
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return jnp.mean(weight * jnp.square(diff))


def sac_actor_rl_loss(q_min: jax.Array, entropy: jax.Array, temperature: jax.Array, mask: jax.Array) -> jax.Array:
    """SAC: -(T x H + min(Q1, Q2)(s, a ~ pi)), masked mean; T is not differentiated here."""
    return masked_mean(-(jax.lax.stop_gradient(temperature) * entropy + q_min), mask)


def iql_weights(advantage: jax.Array, beta: float, clip: float) -> jax.Array:
    """IQL: exp(beta x adv), clipped at `clip` (100)."""
    return jnp.minimum(jnp.exp(beta * advantage), clip)


def awac_weights(advantage: jax.Array, beta: float, clip: float, normalize: bool) -> jax.Array:
    """AWAC: exp(adv / beta) clipped at `clip` (20), or a softmax over all B x K entries."""
    scaled = advantage / beta
    if normalize:
        return jax.nn.softmax(scaled.reshape(-1)).reshape(scaled.shape)
    return jnp.minimum(jnp.exp(scaled), clip)


def weighted_log_likelihood_loss(weights: jax.Array, log_prob: jax.Array, mask: jax.Array) -> jax.Array:
    """Advantage-weighted regression term: -masked mean of w x log pi(a_data); w is not differentiated."""
    return masked_mean(-jax.lax.stop_gradient(weights) * log_prob, mask)


def normalized_rl_coeff(rl_coeff: jax.Array, q: jax.Array) -> jax.Array:
    """TD3+BC-style alpha / mean |Q| over all B x K positions (padding included, as the original)."""
    return rl_coeff / jax.lax.stop_gradient(jnp.mean(jnp.abs(q)))
