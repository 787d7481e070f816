"""Random streams of a run (docs/design.md#random-streams).

Each seed has one root key `PRNGKey(seed)`; every consumer derives its keys with
`fold_in(purpose)`, then `fold_in(iteration)` and `fold_in(call)`, so no two consumers share
a stream, and a resumed or vmapped run draws exactly the keys of an uninterrupted single run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Purposes folded into a seed's root key: one stream per consumer.
INIT_KEYS, SAMPLING_KEYS, EVAL_ACTION_KEYS, COLLECT_ACTION_KEYS = range(4)


# Episode-seed streams of the environments (SeedSequence entropy), for evaluation and collection.
EVAL_EPISODES, ONLINE_EPISODES = 0, 1


def run_seeds(config) -> list[int]:
    """The seeds of a run: config.seed, config.seed + 1, ... (`config.num_seeds` of them, vmapped)."""
    return [config.seed + s for s in range(config.num_seeds)]


def initial_agents(learner, seeds: list[int]):
    """Agent states [S] as a run starts them, from each seed's INIT_KEYS stream (one compile, not one per op);
    also the template a checkpoint restores into."""
    return jax.jit(jax.vmap(learner.init))(stream_keys(seeds, INIT_KEYS))


def stream_keys(seeds: list[int], purpose: int, *position: int) -> jax.Array:
    """[S] keys: fold_in(PRNGKey(seed), purpose), then fold_in of each position entry."""
    keys = []
    for seed in seeds:
        key = jax.random.fold_in(jax.random.PRNGKey(seed), purpose)
        for p in position:
            key = jax.random.fold_in(key, p)
        keys.append(key)
    return jnp.stack(keys)
