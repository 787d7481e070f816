"""On-device segment sampling: the replay ring lives on the accelerator and windows are
drawn with `jax.random` inside the jitted, scanned update, so the update never waits on
the host. Same distribution and fields as `SegmentSampler` (DESIGN.md section 4): a start
uniform over all stored transitions (= length-weighted trajectory, uniform start), left
padding to K, states normalised after padding, RTG suffix sums times reward_scale.

Array shapes change only when the host ring grows (doubling), so recompilation is rare.
"""

from __future__ import annotations

from typing import Any, Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vitamin_jax.data.replay import FlatTrajectories
from vitamin_jax.data.sampler import ACTION_CLIP, MAX_TIMESTEP, PAD_DONE
from vitamin_jax.types import Batch

_DEVICE_KEYS = ("observations", "actions", "rewards", "next_observations", "terminals", "rtg", "positions",
                "remaining")


@flax.struct.dataclass
class DeviceReplay:
    """The ring's arrays on device plus what sampling needs; a pytree (traced scalars)."""

    observations: jax.Array  # [R, S]
    actions: jax.Array  # [R, A]
    rewards: jax.Array  # [R]
    next_observations: jax.Array  # [R, S]
    terminals: jax.Array  # [R]
    rtg: jax.Array  # [R] unscaled suffix sums
    positions: jax.Array  # [R] int32
    remaining: jax.Array  # [R] int32
    head: jax.Array  # int32 scalar
    size: jax.Array  # int32 scalar
    state_mean: jax.Array  # [S]
    state_std: jax.Array  # [S]
    reward_scale: jax.Array  # float32 scalar


def to_device(flat: FlatTrajectories, state_mean: np.ndarray, state_std: np.ndarray, reward_scale: float,
              sharding: Optional[Any] = None) -> DeviceReplay:
    """Copy the ring to device (replicated under `sharding` when given)."""
    host = DeviceReplay(
        **{k: getattr(flat, k) for k in _DEVICE_KEYS},
        head=np.int32(flat.head), size=np.int32(flat.num_transitions),
        state_mean=np.asarray(state_mean, np.float32), state_std=np.asarray(state_std, np.float32),
        reward_scale=np.float32(reward_scale),
    )
    return jax.device_put(host, sharding) if sharding is not None else jax.device_put(host)


def draw_starts(replay: DeviceReplay, key: jax.Array, batch_size: int) -> jax.Array:
    """[B] logical start indices uniform over the stored transitions."""
    return jax.random.randint(key, (batch_size,), 0, replay.size)


def windows(replay: DeviceReplay, start: jax.Array, context_len: int) -> Batch:
    """The batch of left-padded windows starting at logical indices `start` [B]."""
    rows_total = replay.rewards.shape[0]
    k = context_len
    row0 = (replay.head + start) % rows_total  # [B]
    left = replay.remaining[row0]  # steps to the trajectory end
    tlen = jnp.minimum(left, k)
    offset = jnp.arange(k + 1)[None, :] - (k - tlen)[:, None]  # [B, K+1]; < 0 is padding
    step = offset[:, :k]
    real = step >= 0
    rows = (row0[:, None] + jnp.maximum(step, 0)) % rows_total

    def gather(array, pad_value):
        values = array[rows]
        pad = ~real if values.ndim == 2 else ~real[..., None]
        return jnp.where(pad, pad_value, values)

    def states(array):
        # Zero padding *before* normalisation, as the original: padded slots hold -mean/std.
        return (gather(array, 0.0) - replay.state_mean) / replay.state_std

    in_traj = (offset >= 0) & (offset < left[:, None])
    rtg_rows = (row0[:, None] + jnp.clip(offset, 0, (left - 1)[:, None])) % rows_total
    rtg = jnp.where(in_traj, replay.rtg[rtg_rows], 0.0) * replay.reward_scale
    timesteps = jnp.where(real, jnp.minimum(replay.positions[row0][:, None] + step, MAX_TIMESTEP), 0)
    return Batch(
        states=states(replay.observations),
        actions=jnp.clip(gather(replay.actions, 0.0), -ACTION_CLIP, ACTION_CLIP),
        next_states=states(replay.next_observations),
        rewards=gather(replay.rewards, 0.0),
        dones=gather(replay.terminals, PAD_DONE),
        rtg=rtg,
        timesteps=timesteps.astype(jnp.int32),
        mask=real.astype(jnp.float32),
    )


def sample(replay: DeviceReplay, key: jax.Array, batch_size: int, context_len: int) -> Batch:
    return windows(replay, draw_starts(replay, key, batch_size), context_len)
