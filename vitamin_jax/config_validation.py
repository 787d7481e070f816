"""Resolve registry defaults into a config and reject bad values with one clear message.

`resolve_config` is the one place a config is validated, in one pass: the registry's defaults,
the algorithm row (a known name, terms that fit, its actor-update interval), every enumeration
and range of `vitamin_jax.schema`, then the rules that tie fields together. Checks that need
facts only a run has (device count, dataset contents, installed extras) stay where those are known.
"""

from __future__ import annotations

import ml_collections

from vitamin_jax import envs
from vitamin_jax.algorithms import build_algorithm
from vitamin_jax.schema import check, check_enums, check_ranges


def resolve_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Return a copy with `-1` placeholders filled from the dataset registry, validated."""
    c = config.copy_and_resolve_references()
    _fill_registry_defaults(c)
    algo = build_algorithm(c)  # unknown names and terms that do not fit are ConfigErrors
    c.rl.actor_update_interval = algo.resolve_interval(c.rl.actor_update_interval)
    check_enums(c)
    check_ranges(c)
    _check_cross_field_rules(c)
    return c


def _fill_registry_defaults(c: ml_collections.ConfigDict) -> None:
    """critic.layer_norm and online.reward_scale at -1 take the dataset's registry values."""
    spec = envs.get_spec(c.env_name)  # raises UnknownDatasetError with suggestions
    if c.critic.layer_norm == -1:
        c.critic.layer_norm = int(spec.critic_layer_norm)
    if c.online.reward_scale == -1:
        c.online.reward_scale = float(spec.reward_scale)


def _check_cross_field_rules(c: ml_collections.ConfigDict) -> None:
    """Rules between fields, after each field is known to be in its own range."""
    dims = c.critic.hidden_dims
    check(isinstance(dims, (tuple, list)) and len(dims) > 0
          and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims),
          f"config.critic.hidden_dims={dims!r} must be a non-empty tuple of positive integers, e.g. (256, 256)")
    m = c.model
    check(m.embed_dim % m.n_head == 0, f"config.model.embed_dim={m.embed_dim} is not divisible by n_head={m.n_head}")
    check(m.eval_context_length <= m.context_len,
          f"config.model.eval_context_length={m.eval_context_length} must be in [1, context_len={m.context_len}]")
