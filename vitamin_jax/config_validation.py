"""Resolve registry defaults into a config and reject bad values with one clear message."""

from __future__ import annotations

import ml_collections

from vitamin_jax import envs
from vitamin_jax.algorithms import build_algorithm
from vitamin_jax.configuration import ConfigError


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def resolve_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Return a copy with `-1` placeholders filled from the dataset registry, validated."""
    c = config.copy_and_resolve_references()
    spec = envs.get_spec(c.env_name)  # raises UnknownDatasetError with suggestions
    if c.critic.layer_norm == -1:
        c.critic.layer_norm = int(spec.critic_layer_norm)
    if c.online.reward_scale == -1:
        c.online.reward_scale = float(spec.reward_scale)

    algo = build_algorithm(c)  # unknown names and terms that do not fit are ConfigErrors
    c.rl.actor_update_interval = algo.resolve_interval(c.rl.actor_update_interval)
    m = c.model
    _check(m.embed_dim % m.n_head == 0, f"config.model.embed_dim={m.embed_dim} is not divisible by n_head={m.n_head}")
    _check(1 <= m.eval_context_length <= m.context_len,
           f"config.model.eval_context_length={m.eval_context_length} must be in [1, context_len={m.context_len}]")
    _check(m.compute_dtype in ("float32", "bfloat16"), f"config.model.compute_dtype={m.compute_dtype!r} "
           "must be 'float32' or 'bfloat16'")
    _check(c.critic.layer_norm in (0, 1), f"config.critic.layer_norm={c.critic.layer_norm} must be -1, 0 or 1")
    _check(c.rl.target_masking in ("faithful", "fixed"),
           f"config.rl.target_masking={c.rl.target_masking!r} must be 'faithful' or 'fixed'")
    _check(c.train.sampler in ("device", "host"), f"config.train.sampler={c.train.sampler!r} must be 'device' or 'host'")
    _check(c.online.truncation in ("terminal", "bootstrap"),
           f"config.online.truncation={c.online.truncation!r} must be 'terminal' or 'bootstrap'")
    _check(isinstance(c.num_seeds, int) and c.num_seeds >= 1, f"config.num_seeds={c.num_seeds!r} must be >= 1")
    for path in ("model.embed_dim", "model.n_layer", "model.n_head", "model.context_len", "train.batch_size",
                 "train.num_updates_per_pretrain_iter", "train.num_updates_per_online_iter", "train.replay_size",
                 "train.updates_per_dispatch", "rl.actor_update_interval", "online.num_online_envs",
                 "online.num_eval_episodes", "online.eval_interval", "checkpoint.every_iters", "checkpoint.keep"):
        section, field = path.split(".")
        value = c[section][field]
        _check(isinstance(value, int) and value >= 1, f"config.{path}={value!r} must be a positive integer")
    _check(isinstance(c.seed, int) and c.seed >= 0, f"config.seed={c.seed!r} must be a non-negative integer")
    _check(c.train.max_pretrain_iters >= 0, "config.train.max_pretrain_iters must be >= 0")
    _check(0.0 < c.rl.gamma <= 1.0, f"config.rl.gamma={c.rl.gamma} must be in (0, 1]")
    _check(0.0 < c.rl.tau <= 1.0, f"config.rl.tau={c.rl.tau} must be in (0, 1]")
    _check(c.online.reward_scale > 0, f"config.online.reward_scale={c.online.reward_scale} must be > 0")
    return c
