"""Agent state and update steps (docs/design.md#one-update).

`AgentState` is one pytree of arrays (params, targets, temperature, optimiser states,
counters, RNG). `Learner` holds what never changes (networks, optimisers, the algorithm row)
and builds pure update functions from the row's terms; callers jit them. One *update* is one
actor update: `actor_update_interval` critic steps on consecutive batches, the actor step
(and temperature step) after the first critic step, then the soft target update. The
learner only sees batches; where they come from is the caller's business.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from vitamin_jax import losses
from vitamin_jax.algorithms import Algorithm, build_algorithm
from vitamin_jax.networks import CriticEnsemble, DecisionTransformer
from vitamin_jax.objectives import Networks
from vitamin_jax.types import Batch

Params = Any


@flax.struct.dataclass
class AgentState:
    actor_params: Params
    target_actor_params: Params
    critic_params: Params
    target_critic_params: Params
    log_temperature: jax.Array  # scalar
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    temperature_opt_state: optax.OptState
    actor_steps: jax.Array  # int32 scalar, counts actor updates across both phases
    critic_steps: jax.Array
    rng: jax.Array


def actor_optimizer(learning_rate: float, weight_decay: float, warmup_steps: int, grad_clip: float, eps: float):
    """LAMB with linear warmup lr x min((k + 1) / warmup, 1) and global-norm clipping."""
    schedule = lambda count: learning_rate * jnp.minimum((count + 1.0) / warmup_steps, 1.0)
    return optax.chain(
        optax.clip_by_global_norm(grad_clip),
        optax.lamb(schedule, b1=0.9, b2=0.999, eps=eps, weight_decay=weight_decay),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Learner:
    """Static parts of the agent; `update` and friends are pure functions of AgentState."""

    actor: DecisionTransformer
    critic: CriticEnsemble
    algo: Algorithm
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation
    temperature_tx: optax.GradientTransformation
    context_len: int
    tau: float
    actor_update_interval: int
    target_entropy: float
    init_temperature: float
    normalized_rl_coeff: bool = False

    @classmethod
    def from_config(
        cls, config: ml_collections.ConfigDict, state_dim: int, act_dim: int, critic_layer_norm: bool,
    ) -> "Learner":
        algo = build_algorithm(config)
        m = config.model
        actor = DecisionTransformer(
            state_dim=state_dim, act_dim=act_dim, embed_dim=m.embed_dim, n_layer=m.n_layer, n_head=m.n_head,
            dropout=m.dropout, stochastic=algo.stochastic, ordering=m.ordering,
            dtype=jnp.dtype(m.compute_dtype),
        )
        critic = CriticEnsemble(tuple(config.critic.hidden_dims), critic_layer_norm, config.critic.num_qs,
                                with_value=algo.value_head)
        a = config.actor
        return cls(
            actor=actor,
            critic=critic,
            algo=algo,
            actor_tx=actor_optimizer(a.learning_rate, a.weight_decay, a.warmup_steps, a.grad_clip, a.eps),
            critic_tx=optax.adamw(config.critic.learning_rate, b1=0.9, b2=0.999, eps=1e-8,
                                  weight_decay=config.critic.weight_decay),
            temperature_tx=optax.adam(config.temperature.learning_rate, b1=0.9, b2=0.999),
            context_len=m.context_len,
            tau=config.rl.tau,
            actor_update_interval=algo.resolve_interval(config.rl.actor_update_interval),
            target_entropy=-float(act_dim),
            init_temperature=config.temperature.init,
            normalized_rl_coeff=bool(config.rl.normalized_rl_coeff),
        )

    @property
    def networks(self) -> Networks:
        return Networks(self.actor, self.critic)

    # ------------------------------------------------------------------ init
    def init(self, rng: jax.Array) -> AgentState:
        rng, actor_key, critic_key = jax.random.split(rng, 3)
        k, s, a = self.context_len, self.actor.state_dim, self.actor.act_dim
        states, actions = jnp.zeros((1, k, s)), jnp.zeros((1, k, a))
        actor_params = self.actor.init(
            actor_key, states, actions, jnp.zeros((1, k)), jnp.zeros((1, k), jnp.int32), jnp.ones((1, k)),
            deterministic=True,
        )
        critic_params = self.critic.init(critic_key, states, actions)
        log_temperature = jnp.log(jnp.float32(self.init_temperature))
        return AgentState(
            actor_params=actor_params,
            target_actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_temperature=log_temperature,
            actor_opt_state=self.actor_tx.init(actor_params),
            critic_opt_state=self.critic_tx.init(critic_params),
            temperature_opt_state=self.temperature_tx.init(log_temperature),
            actor_steps=jnp.int32(0),
            critic_steps=jnp.int32(0),
            rng=rng,
        )

    @staticmethod
    def sync_targets(state: AgentState) -> AgentState:
        """Hard-copy live networks into the targets (start of each phase, as the original)."""
        return state.replace(target_actor_params=state.actor_params, target_critic_params=state.critic_params)

    # ------------------------------------------------------------------ steps
    def critic_step(self, state: AgentState, batch: Batch, key: jax.Array) -> tuple[AgentState, dict, dict]:
        """One critic step: (state, metrics, what the row's critic loss hands to the actor step)."""
        nets = self.networks
        target = jax.lax.stop_gradient(self.algo.critic_target(nets, state, batch, key))
        loss_fn = lambda params: self.algo.critic_loss(nets, params, state, batch, target)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic_params)
        updates, opt_state = self.critic_tx.update(grads, state.critic_opt_state, state.critic_params)
        q1 = aux["q"][0]
        q_mean = losses.masked_mean(q1, batch.mask)
        q_std = jnp.sqrt(losses.masked_mean(jnp.square(q1 - q_mean), batch.mask))
        state = state.replace(
            critic_params=optax.apply_updates(state.critic_params, updates),
            critic_opt_state=opt_state,
            critic_steps=state.critic_steps + 1,
        )
        metrics = {"critic_loss": loss, "q_mean": q_mean, "q_std": q_std, **aux["metrics"]}
        return state, metrics, aux["for_actor"]

    def actor_step(self, state: AgentState, batch: Batch, key: jax.Array, coeffs: dict,
                   for_actor: dict) -> tuple[AgentState, dict]:
        """One actor step: sup_coeff x supervised + rl_coeff x RL term, then the temperature step."""
        dropout_key, entropy_key, rl_key = jax.random.split(key, 3)
        temperature = jnp.exp(state.log_temperature)
        nets = self.networks

        def loss_fn(params):
            out = self.actor.apply(
                params, batch.states, batch.actions, batch.rtg[:, :-1], batch.timesteps, batch.mask,
                deterministic=False, rngs={"dropout": dropout_key},
            )
            sup, aux = self.algo.supervised(out, batch, entropy_key, temperature)
            rl, rl_coeff, scale_q = jnp.float32(0.0), coeffs["rl_coeff"], None
            if self.algo.rl_term is not None:
                rl, scale_q = self.algo.rl_term(nets, state, batch, out, rl_key, temperature, for_actor)
            if self.normalized_rl_coeff and scale_q is not None:
                rl_coeff = losses.normalized_rl_coeff(rl_coeff, scale_q)
            loss = losses.combined_actor_loss(sup, rl, coeffs["sup_coeff"], rl_coeff)
            return loss, {"actor_loss": loss, "sup_loss": sup, "rl_loss": rl, "rl_coeff": rl_coeff, **aux}

        grads, metrics = jax.grad(loss_fn, has_aux=True)(state.actor_params)
        metrics["actor_grad_norm"] = optax.tree.norm(grads)
        updates, opt_state = self.actor_tx.update(grads, state.actor_opt_state, state.actor_params)
        state = state.replace(
            actor_params=optax.apply_updates(state.actor_params, updates),
            actor_opt_state=opt_state,
            actor_steps=state.actor_steps + 1,
        )
        if self.algo.learns_temperature:
            state = self._temperature_step(state, metrics["entropy"])
        metrics["temperature"] = jnp.exp(state.log_temperature)
        return state, metrics

    def _temperature_step(self, state: AgentState, entropy: jax.Array) -> AgentState:
        grad = jax.grad(losses.temperature_loss)(state.log_temperature, entropy, self.target_entropy)
        updates, opt_state = self.temperature_tx.update(grad, state.temperature_opt_state)
        return state.replace(
            log_temperature=optax.apply_updates(state.log_temperature, updates), temperature_opt_state=opt_state
        )

    def soft_update_targets(self, state: AgentState) -> AgentState:
        return state.replace(
            target_actor_params=optax.incremental_update(state.actor_params, state.target_actor_params, self.tau),
            target_critic_params=optax.incremental_update(state.critic_params, state.target_critic_params, self.tau),
        )

    # --------------------------------------------------------------- update
    def update(self, state: AgentState, batches: Batch, coeffs: dict) -> tuple[AgentState, dict]:
        """One actor update. `batches` has a leading axis of size actor_update_interval.

        Order, as the original: critic step on batch 0, actor step on batch 0, soft target
        update, then critic steps on batches 1..interval-1.
        """
        chex.assert_axis_dimension(batches.states, 0, self.actor_update_interval)
        rng, *keys = jax.random.split(state.rng, 2 * self.actor_update_interval + 1)
        state = state.replace(rng=rng)
        critic_metrics = []
        metrics, for_actor = {}, {}
        for j in range(self.actor_update_interval):
            batch = jax.tree.map(lambda x: x[j], batches)
            if self.algo.trains_critic:
                state, m, for_actor = self.critic_step(state, batch, keys[2 * j])
                critic_metrics.append(m)
            if j == 0:
                state, metrics = self.actor_step(state, batch, keys[2 * j + 1], coeffs, for_actor)
                if self.algo.trains_critic:
                    state = self.soft_update_targets(state)
        if critic_metrics:
            metrics.update(jax.tree.map(lambda *xs: jnp.mean(jnp.stack(xs)), *critic_metrics))
        return state, metrics

    def update_many(self, state: AgentState, batches: Batch, coeffs: dict) -> tuple[AgentState, dict]:
        """`lax.scan` of `update` over a leading axis of U updates: batches [U, interval, B, ...].

        Returns the final state and the metrics of every update, each [U].
        """
        return jax.lax.scan(lambda s, b: self.update(s, b, coeffs), state, batches)
