"""Agent state and update steps (DESIGN.md section 2).

`AgentState` is one pytree of arrays (params, targets, temperature, optimiser states,
counters, RNG). `Learner` holds what never changes (networks, optimisers, hyper-parameters)
and builds pure update functions from the losses; callers jit them. One *update* is one
actor update: `actor_update_interval` critic steps on consecutive batches, the actor step
(and temperature step) after the first critic step, then the soft target update.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import chex
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from vitamin_jax import distributions, losses
from vitamin_jax.algorithms import AlgorithmSpec, get_algorithm
from vitamin_jax.networks import CriticEnsemble, DecisionTransformer
from vitamin_jax.types import Batch

ACTION_LIMIT = 1.0 - 1e-6  # the original's action range: +-(1 - 1e-6)
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
    algo: AlgorithmSpec
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation
    temperature_tx: optax.GradientTransformation
    context_len: int
    gamma: float
    tau: float
    policy_noise: float
    noise_clip: float
    actor_update_interval: int
    target_entropy: float
    init_temperature: float
    target_masking: str = "faithful"
    normalized_rl_coeff: bool = False
    iql_expectile: float = 0.7
    iql_beta: float = 3.0
    iql_weight_clip: float = 100.0
    awac_beta: float = 1.0
    awac_weight_clip: float = 20.0
    awac_normalize_adv: bool = False
    awac_soft_target: bool = True
    batch_sharding: Any = None  # NamedSharding of a [interval, B, ...] batch under jit data parallelism

    @classmethod
    def from_config(
        cls, config: ml_collections.ConfigDict, state_dim: int, act_dim: int, critic_layer_norm: bool,
    ) -> "Learner":
        algo = get_algorithm(config.algo)
        m = config.model
        actor = DecisionTransformer(
            state_dim=state_dim, act_dim=act_dim, embed_dim=m.embed_dim, n_layer=m.n_layer, n_head=m.n_head,
            dropout=m.dropout, stochastic=algo.stochastic, ordering=m.ordering,
            dtype=jnp.dtype(m.compute_dtype),
        )
        critic = CriticEnsemble(tuple(config.critic.hidden_dims), critic_layer_norm, config.critic.num_qs,
                                with_value=algo.critic == "iql")
        a = config.actor
        interval = 1 if algo.single_interval else config.rl.actor_update_interval
        return cls(
            actor=actor,
            critic=critic,
            algo=algo,
            actor_tx=actor_optimizer(a.learning_rate, a.weight_decay, a.warmup_steps, a.grad_clip, a.eps),
            critic_tx=optax.adamw(config.critic.learning_rate, b1=0.9, b2=0.999, eps=1e-8,
                                  weight_decay=config.critic.weight_decay),
            temperature_tx=optax.adam(config.temperature.learning_rate, b1=0.9, b2=0.999),
            context_len=m.context_len,
            gamma=config.rl.gamma,
            tau=config.rl.tau,
            policy_noise=config.rl.policy_noise,
            noise_clip=config.rl.noise_clip,
            actor_update_interval=interval,
            target_entropy=-float(act_dim),
            init_temperature=config.temperature.init,
            target_masking=config.rl.target_masking,
            normalized_rl_coeff=bool(config.rl.normalized_rl_coeff),
            iql_expectile=config.iql.expectile,
            iql_beta=config.iql.beta,
            iql_weight_clip=config.iql.weight_clip,
            awac_beta=config.awac.beta,
            awac_weight_clip=config.awac.weight_clip,
            awac_normalize_adv=bool(config.awac.normalize_adv),
            awac_soft_target=bool(config.awac.soft_target),
        )

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

    # ------------------------------------------------------------ components
    def _target_policy(self, state: AgentState, batch: Batch, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Target actor at s_{t+1} for every position: (action [B, K, A], log pi' [B, K]).

        A stochastic target is sampled (as the original); TD3-style critics then add
        clipped smoothing noise. log pi' is zero for a deterministic actor.
        """
        sample_key, noise_key = jax.random.split(key)
        states, actions, rtg, timesteps, mask = losses.next_step_inputs(batch, self.target_masking)
        out = self.actor.apply(state.target_actor_params, states, actions, rtg, timesteps, mask, deterministic=True)
        if self.algo.stochastic:
            next_actions, log_prob = distributions.sample(sample_key, out.mu, out.log_std)
        else:
            next_actions, log_prob = out.action, jnp.zeros(out.action.shape[:-1])
        next_actions = jnp.clip(next_actions, -ACTION_LIMIT, ACTION_LIMIT)
        if self.algo.critic == "td3" and self.algo.target_smoothing:
            eps = jax.random.normal(noise_key, next_actions.shape, next_actions.dtype)
            next_actions = losses.smoothed_target_action(next_actions, eps, self.policy_noise, self.noise_clip,
                                                         ACTION_LIMIT)
        return next_actions, log_prob

    def _critic_target(self, state: AgentState, batch: Batch, key: jax.Array) -> jax.Array:
        """TD target y [B, K] for the critic kind of the algorithm (no gradient)."""
        if self.algo.critic == "iql":
            next_value = self.critic.apply(state.target_critic_params, batch.next_states, method="value")
            return losses.value_td_target(batch.rewards, batch.dones, next_value, self.gamma)
        next_actions, next_log_prob = self._target_policy(state, batch, key)
        next_q = self.critic.apply(state.target_critic_params, batch.next_states, next_actions)
        if self.algo.critic == "soft":
            temperature = jnp.exp(state.log_temperature)
            if self.algo.rl_term == "awac" and not self.awac_soft_target:
                temperature = jnp.zeros_like(temperature)
            return losses.soft_td_target(batch.rewards, batch.dones, next_q, next_log_prob, temperature, self.gamma)
        if not self.algo.twin_min:
            next_q = next_q[:1]  # DDPG: the first critic alone
        return losses.td_target(batch.rewards, batch.dones, next_q, self.gamma)

    def critic_step(self, state: AgentState, batch: Batch, key: jax.Array) -> tuple[AgentState, dict]:
        target = jax.lax.stop_gradient(self._critic_target(state, batch, key))
        # IQL's value target: min of the *target* twins at the dataset action.
        q_data_target = (jnp.min(self.critic.apply(state.target_critic_params, batch.states, batch.actions), axis=0)
                         if self.algo.critic == "iql" else None)

        def loss_fn(params):
            q = self.critic.apply(params, batch.states, batch.actions)
            loss = losses.critic_loss(q, target, batch.mask)
            aux = {"q": q}
            if self.algo.critic == "iql":
                value = self.critic.apply(params, batch.states, method="value")
                advantage = q_data_target - value
                value_loss = losses.expectile_loss(advantage, self.iql_expectile)
                aux.update(value_loss=value_loss, q_loss=loss, advantage=advantage)
                loss = loss + value_loss
            return loss, aux

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic_params)
        updates, opt_state = self.critic_tx.update(grads, state.critic_opt_state,
                                                   state.critic_params)
        q1 = aux["q"][0]
        q_mean = losses.masked_mean(q1, batch.mask)
        q_std = jnp.sqrt(losses.masked_mean(jnp.square(q1 - q_mean), batch.mask))
        state = state.replace(
            critic_params=optax.apply_updates(state.critic_params, updates),
            critic_opt_state=opt_state,
            critic_steps=state.critic_steps + 1,
        )
        metrics = {"critic_loss": loss, "q_mean": q_mean, "q_std": q_std}
        if self.algo.critic == "iql":
            metrics.update(value_loss=aux["value_loss"], q_loss=aux["q_loss"],
                           advantage=jax.lax.stop_gradient(aux["advantage"]))
        return state, metrics

    def _rl_loss(self, state: AgentState, batch: Batch, out, key: jax.Array, temperature: jax.Array,
                 rl_coeff: jax.Array, advantage: Optional[jax.Array]) -> tuple[jax.Array, jax.Array]:
        """The algorithm's RL term and its (possibly Q-normalised) coefficient."""
        critic_params = jax.lax.stop_gradient(state.critic_params)
        q_fn = lambda actions: self.critic.apply(critic_params, batch.states, actions)
        kind = self.algo.rl_term
        if kind == "q":  # TD3 / DDPG: -Q1 at the actor's (mean) action
            q = q_fn(out.action)[0]
            scale_q, rl = q, losses.actor_rl_loss(q, batch.mask)
        elif kind == "sac":
            sample_key, entropy_key = jax.random.split(key)
            actions, _ = distributions.sample(sample_key, out.mu, out.log_std)
            q = jnp.min(q_fn(actions), axis=0)
            entropy = distributions.entropy_estimate(entropy_key, out.mu, out.log_std)
            scale_q, rl = q, losses.sac_actor_rl_loss(q, entropy, temperature, batch.mask)
        elif kind in ("iql", "awac"):
            log_prob = (distributions.log_likelihood(batch.actions, out.mu, out.log_std) if self.algo.stochastic
                        else -jnp.sum(jnp.square(out.action - batch.actions), axis=-1))
            if kind == "iql":
                weights = losses.iql_weights(advantage, self.iql_beta, self.iql_weight_clip)
                scale_q = None
            else:
                policy_actions, _ = distributions.sample(key, jax.lax.stop_gradient(out.mu),
                                                         jax.lax.stop_gradient(out.log_std))
                v_pi = jnp.min(q_fn(policy_actions), axis=0)
                q_data = jnp.min(q_fn(batch.actions), axis=0)
                weights = losses.awac_weights(q_data - v_pi, self.awac_beta, self.awac_weight_clip,
                                              self.awac_normalize_adv)
                scale_q = v_pi
            rl = losses.weighted_log_likelihood_loss(weights, log_prob, batch.mask)
        else:
            return jnp.float32(0.0), rl_coeff
        if self.normalized_rl_coeff and scale_q is not None:
            rl_coeff = losses.normalized_rl_coeff(rl_coeff, scale_q)
        return rl, rl_coeff

    def actor_step(
        self, state: AgentState, batch: Batch, key: jax.Array, coeffs: dict, advantage: Optional[jax.Array] = None
    ) -> tuple[AgentState, dict]:
        dropout_key, entropy_key, rl_key = jax.random.split(key, 3)
        temperature = jnp.exp(state.log_temperature)

        def loss_fn(params):
            out = self.actor.apply(
                params, batch.states, batch.actions, batch.rtg[:, :-1], batch.timesteps, batch.mask,
                deterministic=False, rngs={"dropout": dropout_key},
            )
            aux = {}
            if self.algo.stochastic:
                ll = distributions.log_likelihood(batch.actions, out.mu, out.log_std)
                entropy = distributions.entropy_estimate(entropy_key, out.mu, out.log_std)
                reg = temperature if self.algo.entropy_reg else 0.0
                sup, aux = losses.odt_loss(ll, entropy, batch.mask, reg)
            else:
                sup = losses.mse_loss(out.action, batch.actions, batch.mask)
            rl, rl_coeff = self._rl_loss(state, batch, out, rl_key, temperature, coeffs["rl_coeff"], advantage)
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
        metrics = {}
        advantage = None
        for j in range(self.actor_update_interval):
            batch = jax.tree.map(lambda x: x[j], batches)
            if self.algo.trains_critic:
                state, m = self.critic_step(state, batch, keys[2 * j])
                advantage = m.pop("advantage", None)  # IQL: computed before the critic update
                critic_metrics.append(m)
            if j == 0:
                state, metrics = self.actor_step(state, batch, keys[2 * j + 1], coeffs, advantage)
                if self.algo.trains_critic:
                    state = self.soft_update_targets(state)
        if critic_metrics:
            metrics.update(jax.tree.map(lambda *xs: jnp.mean(jnp.stack(xs)), *critic_metrics))
        return state, metrics

    def update_many_on_device(
        self, state: AgentState, replay, key: jax.Array, coeffs: dict, num_updates: int, batch_size: int
    ) -> tuple[AgentState, dict]:
        """`num_updates` updates, each drawing its `interval` batches from a device-resident replay.

        `replay` is a `vitamin_jax.data.device_sampler.DeviceReplay`; `key` drives sampling
        only (the agent's own RNG stream is unchanged). Metrics are [num_updates].
        """
        from vitamin_jax.data import device_sampler

        def body(s, update_key):
            keys = jax.random.split(update_key, self.actor_update_interval)
            batches = jax.vmap(lambda k: device_sampler.sample(replay, k, batch_size, self.context_len))(keys)
            if self.batch_sharding is not None:  # split the sampled batch over the data mesh
                batches = jax.lax.with_sharding_constraint(batches, self.batch_sharding)
            return self.update(s, batches, coeffs)

        return jax.lax.scan(body, state, jax.random.split(key, num_updates))

    def update_many(self, state: AgentState, batches: Batch, coeffs: dict) -> tuple[AgentState, dict]:
        """`lax.scan` of `update` over a leading axis of U updates: batches [U, interval, B, ...].

        Returns the final state and the metrics of every update, each [U].
        """
        return jax.lax.scan(lambda s, b: self.update(s, b, coeffs), state, batches)
