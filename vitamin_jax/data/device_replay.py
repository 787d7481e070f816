"""The device side of the replay: ring arrays, their incremental copy, and window sampling.

`ReplayArrays` is a replay ring in ring layout as a pytree; `windows` gathers left-padded
K-step windows with hindsight RTG from it, in jnp, so the device path runs it inside the
jitted, scanned update (`sample`) and the host path (`vitamin_jax.data.sampler`) runs the
same function on the CPU device (docs/design.md#data-flow). One uniform draw over all N stored
transitions gives both the trajectory (probability len_i / N, the original's length
weighting) and the start index (uniform in [0, len_i - 1]), so a batch is index arithmetic
and gathers, with no loop over samples.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vitamin_jax.constants import ACTION_LIMIT, MAX_TIMESTEP
from vitamin_jax.data.replay import FlatTrajectories
from vitamin_jax.types import Batch

PAD_DONE = 2.0  # the original's done value for padded slots
_ARRAY_KEYS = ("observations", "actions", "rewards", "next_observations", "terminals", "rtg", "positions",
               "remaining")


@flax.struct.dataclass
class ReplayArrays:
    """A replay ring's arrays as jax arrays plus what sampling needs; a pytree (traced scalars)."""

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
    ring_rows: jax.Array  # int32 scalar: rows of the ring; rows past it (up to R) are padding
    state_mean: jax.Array  # [S]
    state_std: jax.Array  # [S]
    reward_scale: jax.Array  # float32 scalar


def host_arrays(flat: FlatTrajectories, state_mean: np.ndarray, state_std: np.ndarray, reward_scale: float,
                capacity: Optional[int] = None) -> ReplayArrays:
    """The ring as NumPy `ReplayArrays` in ring layout, zero-padded to `capacity` rows (default: none)."""
    capacity = flat.rows if capacity is None else int(capacity)
    if capacity < flat.rows:
        raise ValueError(f"capacity {capacity} is below the ring's {flat.rows} rows")

    def padded(array):
        if capacity == flat.rows:
            return array
        return np.concatenate([array, np.zeros((capacity - flat.rows,) + array.shape[1:], array.dtype)])

    return ReplayArrays(
        **{k: padded(getattr(flat, k)) for k in _ARRAY_KEYS},
        head=np.int32(flat.head), size=np.int32(flat.num_transitions), ring_rows=np.int32(flat.rows),
        state_mean=np.asarray(state_mean, np.float32), state_std=np.asarray(state_std, np.float32),
        reward_scale=np.float32(reward_scale),
    )


def to_device(flat: FlatTrajectories, state_mean: np.ndarray, state_std: np.ndarray, reward_scale: float,
              sharding: Optional[Any] = None) -> ReplayArrays:
    """Copy the ring to the default device, or under `sharding` (replicated, or a CPU device)."""
    host = host_arrays(flat, state_mean, state_std, reward_scale)
    return jax.device_put(host, sharding) if sharding is not None else jax.device_put(host)


ROW_KEYS = _ARRAY_KEYS  # the per-row arrays that an incremental update writes


@functools.partial(jax.jit, donate_argnums=0)
def write_rows(replay: ReplayArrays, seed_index: jax.Array, row_index: jax.Array, values: dict,
               head: jax.Array, size: jax.Array, ring_rows: jax.Array) -> ReplayArrays:
    """Stacked rings [S, R, ...] with rows `row_index` of seeds `seed_index` set to `values`.

    The old arrays are donated (updated in place where the backend allows); index pairs with
    row_index >= R are padding and are dropped, so a padded write keeps one compiled shape.
    """
    fields = {k: getattr(replay, k).at[seed_index, row_index].set(values[k].astype(getattr(replay, k).dtype),
                                                                   mode="drop")
              for k in ROW_KEYS}
    return replay.replace(**fields, head=head, size=size, ring_rows=ring_rows)


def draw_starts(replay: ReplayArrays, key: jax.Array, batch_size: int) -> jax.Array:
    """[B] logical start indices uniform over the stored transitions."""
    return jax.random.randint(key, (batch_size,), 0, replay.size)


def windows(replay: ReplayArrays, start: jax.Array, context_len: int) -> Batch:
    """The batch of left-padded windows starting at logical indices `start` [B].

    Shapes: states/next_states [B, K, S], actions [B, K, A], rewards/dones/mask [B, K],
    rtg [B, K + 1], timesteps [B, K] int32 (see `vitamin_jax.types.Batch`).
    """
    rows_total = replay.ring_rows
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

    # K+1 RTG entries: suffix sums from the window start; 0 past the trajectory end and in padding.
    in_traj = (offset >= 0) & (offset < left[:, None])
    rtg_rows = (row0[:, None] + jnp.clip(offset, 0, (left - 1)[:, None])) % rows_total
    rtg = jnp.where(in_traj, replay.rtg[rtg_rows], 0.0) * replay.reward_scale
    timesteps = jnp.where(real, jnp.minimum(replay.positions[row0][:, None] + step, MAX_TIMESTEP), 0)
    return Batch(
        states=states(replay.observations),
        actions=jnp.clip(gather(replay.actions, 0.0), -ACTION_LIMIT, ACTION_LIMIT),
        next_states=states(replay.next_observations),
        rewards=gather(replay.rewards, 0.0),
        dones=gather(replay.terminals, PAD_DONE),
        rtg=rtg,
        timesteps=timesteps.astype(jnp.int32),
        mask=real.astype(jnp.float32),
    )


def sample(replay: ReplayArrays, key: jax.Array, batch_size: int, context_len: int) -> Batch:
    return windows(replay, draw_starts(replay, key, batch_size), context_len)
