"""The update programs of a run: scanned, vmapped over seeds, sampling on the device or the host.

`Updates.build` compiles them once per shape; `train` runs one iteration's updates for every
seed (docs/design.md#one-update). `experiments/bench_step.py` times the same programs.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from vitamin_jax import distributed
from vitamin_jax.agent import AgentState, Learner
from vitamin_jax.data.device_replay import ReplayArrays, sample
from vitamin_jax.errors import TrainingError
from vitamin_jax.run_state import Run
from vitamin_jax.streams import SAMPLING_KEYS, stream_keys


def dispatch_chunk(total: int, preferred: int) -> int:
    """Largest divisor of `total` not above `preferred`: a fixed scan length, one compile."""
    preferred = max(1, min(preferred, total))
    return max(d for d in range(1, preferred + 1) if total % d == 0)


def sampled_updates(learner: Learner, batch_size: int, batch_sharding=None) -> Callable:
    """`f(state, replay, key, coeffs, num_updates)`: a scan of `update(state, sample(replay, key))`.

    Each update draws its `interval` batches from the device-resident `replay`; `key`
    drives sampling only (the agent's own RNG stream is unchanged); metrics are [num_updates].
    Under data parallelism `batch_sharding` splits each sampled batch over the mesh.
    """
    interval, context_len = learner.actor_update_interval, learner.context_len

    def run(state: AgentState, replay: ReplayArrays, key: jax.Array, coeffs: dict, num_updates: int):
        def body(s, update_key):
            keys = jax.random.split(update_key, interval)
            batches = jax.vmap(lambda k: sample(replay, k, batch_size, context_len))(keys)
            if batch_sharding is not None:
                batches = jax.lax.with_sharding_constraint(batches, batch_sharding)
            return learner.update(s, batches, coeffs)

        return jax.lax.scan(body, state, jax.random.split(key, num_updates))

    return run


@dataclasses.dataclass(frozen=True)
class Updates:
    """The jitted update functions of a run, vmapped over seeds (compiled once per shape)."""

    interval: int
    from_host: Callable  # (agent [S], batches [S, chunk, interval, B, ...], coeffs)
    on_device: Callable  # (agent [S], replay, keys [S], coeffs, num_updates, replay vmap axis)
    coefficients: Callable  # (config, phase) -> coeffs: the learner's own row, never rebuilt

    @classmethod
    def build(cls, learner: Learner, batch_size: int, mesh=None) -> "Updates":
        batch_sharding = distributed.batch_sharding(mesh, batch_axis=1) if mesh is not None else None
        scan = sampled_updates(learner, batch_size, batch_sharding)

        def on_device(agent, replay, keys, coeffs, num_updates, replay_axis):
            one_seed = lambda a, r, k: scan(a, r, k, coeffs, num_updates)
            return jax.vmap(one_seed, in_axes=(0, replay_axis, 0))(agent, replay, keys)

        from_host = jax.vmap(learner.update_many, in_axes=(0, 0, None))
        if mesh is not None:  # host batches are placed split over the mesh: [S, chunk, interval, B, ...]
            place = lambda batches: distributed.shard_batch(batches, mesh, batch_axis=3)
            host_jit = jax.jit(from_host)
            from_host_fn = lambda agent, batches, coeffs: host_jit(agent, place(batches), coeffs)
        else:
            from_host_fn = jax.jit(from_host)
        return cls(learner.actor_update_interval, from_host_fn, jax.jit(on_device, static_argnums=(4, 5)),
                   learner.algo.coefficients)


def train(run: Run, updates: "Updates", phase: str, active: np.ndarray) -> dict:
    """`num_updates` actor updates per seed in fixed-size scanned chunks; per-seed mean metrics [S].

    'device' sampling copies the replay ring(s) to the accelerator once per call and draws
    windows inside the scan; 'host' samples per seed on the CPU and transfers each chunk.
    Seeds that are not `active` (budget reached) keep their state.
    """
    c = run.config
    num_updates = c.train.num_updates_per_pretrain_iter if phase == "pretrain" else c.train.num_updates_per_online_iter
    coeffs = updates.coefficients(c, phase)
    chunk = dispatch_chunk(num_updates, c.train.updates_per_dispatch)
    before = run.agent
    history = []
    timings = run.timings
    if c.train.sampler == "device":
        with timings.section("replay_transfer"):
            replay, axis = jax.block_until_ready(run.replay.device_replay(phase))
        with timings.section("updates"):
            for i in range(num_updates // chunk):
                keys = stream_keys(run.seeds, SAMPLING_KEYS, run.loop.global_iteration, i)
                run.agent, metrics = updates.on_device(run.agent, replay, keys, coeffs, chunk, axis)
                history.append(metrics)
            jax.block_until_ready(run.agent)
    else:  # host sampling (counted as the transfer) overlaps the previous chunk's updates
        start = time.perf_counter()
        for _ in range(num_updates // chunk):
            with timings.section("replay_transfer"):
                batches = run.replay.host_batches(phase, run.np_rngs, chunk, updates.interval, c.train.batch_size)
            run.agent, metrics = updates.from_host(run.agent, batches, coeffs)
            history.append(metrics)
        jax.block_until_ready(run.agent)
        timings.add("updates", time.perf_counter() - start - timings.seconds["replay_transfer"])
    timings.count("updates", num_updates)
    if not active.all():
        keep = jnp.asarray(active)
        run.agent = jax.tree.map(
            lambda new, old: jnp.where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), run.agent, before)
    run.loop.updates += num_updates
    metrics = {k: np.mean(np.concatenate([np.asarray(h[k]) for h in history], axis=1), axis=1)
               for k in history[0]}  # [S]
    bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v[active]))]
    if bad:
        raise TrainingError(_non_finite_message(run, phase, bad))
    return metrics


def _non_finite_message(run: Run, phase: str, bad: list) -> str:
    """Right after a restore the checkpoint is the suspect, not the learning rate."""
    where = f"non-finite {', '.join(bad)} in {phase} iteration {run.loop.global_iteration + 1}"
    step = run.restored_step
    if step is not None and run.loop.global_iteration == step:
        checked = "its digest matched" if run.restored_verified else "it had no digest to check"
        return (f"{where}, the first after restoring checkpoint {step} ({checked}): that checkpoint may be "
                f"damaged; move {run.checkpointer.step_dir(step)} into "
                f"{os.path.join(run.workdir, 'corrupt_checkpoints')} and rerun to resume from the one before it")
    latest = run.checkpointer.latest_step()
    kept = (f"the last checkpoint (iteration {latest}) in {run.checkpointer.directory} is kept"
            if latest is not None else "no checkpoint was written yet")
    return f"{where}; {kept}. Try a lower learning rate."
