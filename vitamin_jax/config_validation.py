"""Resolve registry defaults into a config and reject bad values with one clear message.

The allowed values (enumerations, one table of numeric ranges) are in `vitamin_jax.schema`.
"""

from __future__ import annotations

import ml_collections

from vitamin_jax import envs
from vitamin_jax.algorithms import build_algorithm
from vitamin_jax.schema import check, check_enums, check_ranges


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
    check_enums(c)
    check_ranges(c)
    m = c.model
    check(m.embed_dim % m.n_head == 0, f"config.model.embed_dim={m.embed_dim} is not divisible by n_head={m.n_head}")
    check(m.eval_context_length <= m.context_len,
           f"config.model.eval_context_length={m.eval_context_length} must be in [1, context_len={m.context_len}]")
    return c
