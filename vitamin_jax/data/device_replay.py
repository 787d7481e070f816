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
from typing import Any, Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vitamin_jax.constants import ACTION_LIMIT, MAX_TIMESTEP
from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer
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


def capacity_bucket(rows: int) -> int:
    """Device rows for a group of rings: the next power of two (few recompiles)."""
    return 1 << max(10, int(rows - 1).bit_length())


def write_bucket(rows: int) -> int:
    """Padded length of an incremental write: the next power of two (few recompiles)."""
    return 1 << max(8, int(rows - 1).bit_length())


class DeviceReplay:
    """The device copies a run samples from: the offline set, and every seed's online ring.

    The online rings stay on the device between iterations in ring layout ([S, R] with R a
    power of two): each call writes only the rows added since the previous one (a
    fixed-shape, donated scatter, `write_rows`), and copies everything only when a ring grows
    (docs/design.md#where-the-time-goes). `sharding` places the copies (replicated under data
    parallelism; None: the default device).
    """

    def __init__(self, state_mean: np.ndarray, state_std: np.ndarray, reward_scale: float,
                 sharding: Optional[Any] = None):
        self.state_mean, self.state_std, self.reward_scale = state_mean, state_std, reward_scale
        self._sharding = sharding
        self._offline: Optional[ReplayArrays] = None
        self._online: Optional[ReplayArrays] = None

    def _put(self, tree: Any) -> Any:
        return jax.device_put(tree, self._sharding) if self._sharding is not None else jax.device_put(tree)

    def offline(self, flat: FlatTrajectories) -> ReplayArrays:
        """The offline set on the device, shared by every seed; copied on the first call only."""
        if self._offline is None:
            self._offline = self._put(host_arrays(flat, self.state_mean, self.state_std, self.reward_scale))
        return self._offline

    def online(self, replays: Sequence[ReplayBuffer]) -> ReplayArrays:
        """Every seed's ring stacked [S, R, ...]; only the rows written since the last call are copied."""
        written = [r.take_written_rows() for r in replays]
        capacity = capacity_bucket(max(r.rows for r in replays))
        current = self._online
        if current is None or current.rewards.shape[1] != capacity or any(w is None for w in written):
            self._online = self._put(self._stacked(replays, capacity))
        else:
            self._online = self._write(replays, current, written)
        return self._online

    def forget_online(self) -> None:
        """Drop the online copy (after a restore replaced the rings): the next call copies them whole."""
        self._online = None

    def _stacked(self, replays: Sequence[ReplayBuffer], capacity: int) -> ReplayArrays:
        """Every ring, padded to `capacity` rows and stacked [S, capacity, ...] on the host."""
        rings = [host_arrays(r.flat, self.state_mean, self.state_std, self.reward_scale, capacity) for r in replays]
        return jax.tree.map(lambda *xs: np.stack(xs), *rings)

    def _write(self, replays: Sequence[ReplayBuffer], current: ReplayArrays,
               written: Sequence[np.ndarray]) -> ReplayArrays:
        """Scatter the rows written since the last call into the device rings (padded to a bucket)."""
        capacity = int(current.rewards.shape[1])
        seed_index = np.concatenate([np.full(len(w), s, np.int32) for s, w in enumerate(written)])
        row_index = np.concatenate(written).astype(np.int32)
        pad = write_bucket(len(row_index)) - len(row_index)
        flats = [r.flat for r in replays]
        values = {}
        for key in ROW_KEYS:
            rows = np.concatenate([getattr(f, key)[w] for f, w in zip(flats, written)])
            values[key] = np.concatenate([rows, np.zeros((pad,) + rows.shape[1:], rows.dtype)])
        scalars = [np.array([getattr(f, k) for f in flats], np.int32) for k in ("head", "size", "rows")]
        args = self._put((np.concatenate([seed_index, np.zeros(pad, np.int32)]),
                          np.concatenate([row_index, np.full(pad, capacity, np.int32)]),  # out of range: dropped
                          values, *scalars))
        return write_rows(current, *args)
