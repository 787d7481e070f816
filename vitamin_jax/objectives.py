"""The terms an algorithm row is made of (docs/design.md#algorithms-as-rows).

Four kinds of term, each a frozen dataclass whose fields are the hyper-parameters bound when
the row is built from the config, and whose `__call__` is a pure function of the networks,
the agent state and the batch:

- critic target: `(nets, state, batch, key) -> y [B, K]` (TD3 clipped double Q, DDPG's
  single critic, the soft SAC/AWAC target, IQL's value target);
- critic loss: `(nets, critic_params, state, batch, target) -> (loss, aux)`; `aux["q"]` is
  Q [N, B, K], `aux["metrics"]` is logged, and `aux["for_actor"]` is handed to the actor
  step of the same update (IQL's advantage, computed before the critic moves);
- RL term: `(nets, state, batch, out, key, temperature, for_actor) -> (rl, scale_q)`;
  `scale_q` is the Q a normalised coefficient divides by (None: not normalisable);
- supervised term: `(out, batch, key, temperature) -> (loss, metrics)`.

The arithmetic lives in `vitamin_jax.losses` (each formula checked against NumPy); this
module wires it to the networks. `needs_stochastic` / `provides_entropy`, a target's
`needs_value_head` and an RL term's `needs_for_actor` (against a critic loss's `value_head` and
`for_actor_keys`) let `vitamin_jax.algorithms` refuse rows whose terms do not fit together.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from vitamin_jax import distributions, losses
from vitamin_jax.constants import ACTION_LIMIT
from vitamin_jax.networks import CriticEnsemble, DecisionTransformer
from vitamin_jax.types import Batch


class Networks(NamedTuple):
    actor: DecisionTransformer
    critic: CriticEnsemble


# ------------------------------------------------------------------ critic targets
def target_policy(nets: Networks, state: Any, batch: Batch, key: jax.Array, masking: str,
                  smoothing: Optional[tuple[float, float]]) -> tuple[jax.Array, jax.Array]:
    """Target actor at s_{t+1} for every position: (action [B, K, A], log pi' [B, K]).

    A stochastic target is sampled (as the original); `smoothing` = (sigma, clip) adds TD3's
    clipped noise. log pi' is zero for a deterministic actor.
    """
    sample_key, noise_key = jax.random.split(key)
    states, actions, rtg, timesteps, mask = losses.next_step_inputs(batch, masking)
    out = nets.actor.apply(state.target_actor_params, states, actions, rtg, timesteps, mask, deterministic=True)
    if nets.actor.stochastic:
        next_actions, log_prob = distributions.sample(sample_key, out.mu, out.log_std)
    else:
        next_actions, log_prob = out.action, jnp.zeros(out.action.shape[:-1])
    next_actions = jnp.clip(next_actions, -ACTION_LIMIT, ACTION_LIMIT)
    if smoothing is not None:
        policy_noise, noise_clip = smoothing
        eps = jax.random.normal(noise_key, next_actions.shape, next_actions.dtype)
        next_actions = losses.smoothed_target_action(next_actions, eps, policy_noise, noise_clip, ACTION_LIMIT)
    return next_actions, log_prob


@dataclasses.dataclass(frozen=True)
class ClippedDoubleQTarget:
    """TD3: y = r + gamma (1 - d) min_i Q'_i(s', a' + clipped noise). DDPG: first critic, no noise."""

    gamma: float
    masking: str
    policy_noise: float
    noise_clip: float
    twin_min: bool = True
    smoothing: bool = True
    needs_stochastic = False
    needs_value_head = False

    def next_actions(self, nets: Networks, state: Any, batch: Batch, key: jax.Array):
        smoothing = (self.policy_noise, self.noise_clip) if self.smoothing else None
        return target_policy(nets, state, batch, key, self.masking, smoothing)

    def __call__(self, nets: Networks, state: Any, batch: Batch, key: jax.Array) -> jax.Array:
        next_actions, _ = self.next_actions(nets, state, batch, key)
        next_q = nets.critic.apply(state.target_critic_params, batch.next_states, next_actions)
        if not self.twin_min:
            next_q = next_q[:1]  # DDPG: the first critic alone
        return losses.td_target(batch.rewards, batch.dones, next_q, self.gamma)


@dataclasses.dataclass(frozen=True)
class SoftTarget:
    """SAC/AWAC: y = r + gamma (1 - d) (min_i Q'_i(s', a') - T log pi'(a')), a' ~ target actor.

    `entropy_bonus=False` drops the -T log pi' term (AWAC's option).
    """

    gamma: float
    masking: str
    entropy_bonus: bool = True
    needs_stochastic = True
    needs_value_head = False

    def __call__(self, nets: Networks, state: Any, batch: Batch, key: jax.Array) -> jax.Array:
        next_actions, next_log_prob = target_policy(nets, state, batch, key, self.masking, None)
        next_q = nets.critic.apply(state.target_critic_params, batch.next_states, next_actions)
        temperature = jnp.exp(state.log_temperature)
        if not self.entropy_bonus:
            temperature = jnp.zeros_like(temperature)
        return losses.soft_td_target(batch.rewards, batch.dones, next_q, next_log_prob, temperature, self.gamma)


@dataclasses.dataclass(frozen=True)
class ValueTarget:
    """IQL: y = r + gamma (1 - d) V'(s') from the target critic's value head."""

    gamma: float
    needs_stochastic = False
    needs_value_head = True

    def __call__(self, nets: Networks, state: Any, batch: Batch, key: jax.Array) -> jax.Array:
        next_value = nets.critic.apply(state.target_critic_params, batch.next_states, method="value")
        return losses.value_td_target(batch.rewards, batch.dones, next_value, self.gamma)


# ------------------------------------------------------------------ critic losses
@dataclasses.dataclass(frozen=True)
class SquaredTDLoss:
    """Sum over critics of masked squared TD errors over all B x K positions (as the original)."""

    value_head = False
    for_actor_keys = ()

    def __call__(self, nets: Networks, params: Any, state: Any, batch: Batch, target: jax.Array):
        q = nets.critic.apply(params, batch.states, batch.actions)
        return losses.critic_loss(q, target, batch.mask), {"q": q, "metrics": {}, "for_actor": {}}


@dataclasses.dataclass(frozen=True)
class ExpectileValueLoss:
    """IQL: the TD loss plus V(s) regressed by expectile towards min_i Q'_i(s, a_data) (target twins).

    The advantage Q' - V (before this step's critic update) goes to the actor's IQL term.
    """

    expectile: float
    value_head = True
    for_actor_keys = ("advantage",)

    def __call__(self, nets: Networks, params: Any, state: Any, batch: Batch, target: jax.Array):
        q_data_target = jnp.min(nets.critic.apply(state.target_critic_params, batch.states, batch.actions), axis=0)
        q = nets.critic.apply(params, batch.states, batch.actions)
        q_loss = losses.critic_loss(q, target, batch.mask)
        advantage = q_data_target - nets.critic.apply(params, batch.states, method="value")
        value_loss = losses.expectile_loss(advantage, self.expectile)
        aux = {"q": q, "metrics": {"value_loss": value_loss, "q_loss": q_loss},
               "for_actor": {"advantage": jax.lax.stop_gradient(advantage)}}
        return q_loss + value_loss, aux


# ------------------------------------------------------------------ RL terms of the actor
def _frozen_q(nets: Networks, state: Any, batch: Batch):
    critic_params = jax.lax.stop_gradient(state.critic_params)
    return lambda actions: nets.critic.apply(critic_params, batch.states, actions)


@dataclasses.dataclass(frozen=True)
class NegativeQTerm:
    """TD3/DDPG: -Q1 at the actor's (mean) action, masked mean."""

    needs_stochastic = False
    needs_for_actor = ()

    def __call__(self, nets, state, batch, out, key, temperature, for_actor):
        q = _frozen_q(nets, state, batch)(out.action)[0]
        return losses.actor_rl_loss(q, batch.mask), q


@dataclasses.dataclass(frozen=True)
class SACTerm:
    """SAC: -(T H + min_i Q_i(s, a ~ pi)) with a reparameterised sample."""

    needs_stochastic = True
    needs_for_actor = ()

    def __call__(self, nets, state, batch, out, key, temperature, for_actor):
        sample_key, entropy_key = jax.random.split(key)
        actions, _ = distributions.sample(sample_key, out.mu, out.log_std)
        q = jnp.min(_frozen_q(nets, state, batch)(actions), axis=0)
        entropy = distributions.entropy_estimate(entropy_key, out.mu, out.log_std)
        return losses.sac_actor_rl_loss(q, entropy, temperature, batch.mask), q


def _data_log_prob(nets: Networks, batch: Batch, out) -> jax.Array:
    """log pi(a_data) [B, K]; a deterministic actor uses -||pi(s) - a_data||^2 instead."""
    if nets.actor.stochastic:
        return distributions.log_likelihood(batch.actions, out.mu, out.log_std)
    return -jnp.sum(jnp.square(out.action - batch.actions), axis=-1)


@dataclasses.dataclass(frozen=True)
class IQLTerm:
    """IQL: -mean min(exp(beta x adv), clip) log pi(a_data), adv from this update's critic step."""

    beta: float
    weight_clip: float
    needs_stochastic = False
    needs_for_actor = ("advantage",)  # from ExpectileValueLoss

    def __call__(self, nets, state, batch, out, key, temperature, for_actor):
        weights = losses.iql_weights(for_actor["advantage"], self.beta, self.weight_clip)
        return losses.weighted_log_likelihood_loss(weights, _data_log_prob(nets, batch, out), batch.mask), None


@dataclasses.dataclass(frozen=True)
class AWACTerm:
    """AWAC: advantage Q(s, a_data) - Q(s, a ~ pi) weights on log pi(a_data) (exp(adv / beta) or softmax)."""

    beta: float
    weight_clip: float
    normalize_advantage: bool
    needs_stochastic = True
    needs_for_actor = ()

    def __call__(self, nets, state, batch, out, key, temperature, for_actor):
        q_fn = _frozen_q(nets, state, batch)
        policy_actions, _ = distributions.sample(key, jax.lax.stop_gradient(out.mu),
                                                 jax.lax.stop_gradient(out.log_std))
        v_pi = jnp.min(q_fn(policy_actions), axis=0)
        q_data = jnp.min(q_fn(batch.actions), axis=0)
        weights = losses.awac_weights(q_data - v_pi, self.beta, self.weight_clip, self.normalize_advantage)
        return losses.weighted_log_likelihood_loss(weights, _data_log_prob(nets, batch, out), batch.mask), v_pi


# ------------------------------------------------------------------ supervised terms
@dataclasses.dataclass(frozen=True)
class MSETerm:
    """TD3+ODT's supervised term: masked MSE between pi(s) and the data action."""

    needs_stochastic = False
    provides_entropy = False

    def __call__(self, out, batch: Batch, key: jax.Array, temperature: jax.Array):
        return losses.mse_loss(out.action, batch.actions, batch.mask), {}


@dataclasses.dataclass(frozen=True)
class LikelihoodTerm:
    """ODT's supervised term: -(log-likelihood + T x entropy); `entropy_reg=False` drops T x H."""

    entropy_reg: bool
    needs_stochastic = True
    provides_entropy = True

    def __call__(self, out, batch: Batch, key: jax.Array, temperature: jax.Array):
        ll = distributions.log_likelihood(batch.actions, out.mu, out.log_std)
        entropy = distributions.entropy_estimate(key, out.mu, out.log_std)
        return losses.odt_loss(ll, entropy, batch.mask, temperature if self.entropy_reg else 0.0)
