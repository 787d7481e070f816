"""What a run trains on: the offline set, one replay buffer per seed, and where batches come from.

`RunReplay` owns the data side of a run (docs/design.md#data-flow). Pretraining samples the
offline set (one device copy shared by every seed, made once); online iterations sample each
seed's own replay buffer. Two batch sources, chosen by `config.train.sampler`:

- 'device': `device_replay(phase)` gives the ring(s) as device arrays; the trainer draws
  windows inside its jitted scan with `vitamin_jax.data.device_replay.sample`. The online rings
  stay on the device between iterations in ring layout ([S, R] with R a power of two):
  each call writes only the rows added since the previous one (a fixed-shape, donated
  scatter), and copies everything only when a ring grows (docs/design.md#where-the-time-goes);
- 'host': `host_batches(...)` draws windows per seed with each seed's NumPy generator and
  returns [S, chunk, interval, B, ...] arrays for `Learner.update_many`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import numpy as np

from vitamin_jax.data import device_replay, sampler
from vitamin_jax.data.preprocess import OfflineData
from vitamin_jax.data.replay import ReplayBuffer, flatten_trajectories
from vitamin_jax.types import Batch

PHASES = ("pretrain", "online")


def capacity_bucket(rows: int) -> int:
    """Device rows for a group of rings: the next power of two (few recompiles)."""
    return 1 << max(10, int(rows - 1).bit_length())


def write_bucket(rows: int) -> int:
    """Padded length of an incremental write: the next power of two (few recompiles)."""
    return 1 << max(8, int(rows - 1).bit_length())


class RunReplay:
    """The offline set and the per-seed replay buffers of one run, and batches drawn from them."""

    def __init__(self, data: OfflineData, *, num_seeds: int, replay_size: int, context_len: int,
                 reward_scale: float, replicated: Optional[Any] = None):
        """replicated: a sharding for device copies under data parallelism (None: default device)."""
        self.state_mean, self.state_std = data.state_mean, data.state_std
        self.context_len, self.reward_scale = int(context_len), float(reward_scale)
        self.offline = flatten_trajectories(data.trajectories)
        self.replays = [ReplayBuffer(replay_size, data.trajectories) for _ in range(num_seeds)]
        self._replicated = replicated
        self._offline_on_device = None
        self._online_on_device: Optional[device_replay.ReplayArrays] = None
        self._samplers: dict = {}

    # ------------------------------------------------------------------ contents
    def add(self, seed_index: int, trajectories: Sequence[dict]) -> None:
        self.replays[seed_index].add(trajectories)

    def state_dict(self) -> dict:
        """The per-seed buffers and the state statistics, for a checkpoint."""
        return {"replay": {str(s): r.state_dict() for s, r in enumerate(self.replays)},
                "state_mean": self.state_mean, "state_std": self.state_std}

    def load_state_dict(self, arrays: dict) -> None:
        self.replays = [ReplayBuffer.from_state_dict(arrays["replay"][str(s)]) for s in range(len(self.replays))]
        self._samplers = {}
        self._online_on_device = None

    def _sources(self, phase: str) -> list:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        return [self.offline] * len(self.replays) if phase == "pretrain" else self.replays

    # ------------------------------------------------------------------ device source
    def _put(self, tree: Any) -> Any:
        return jax.device_put(tree, self._replicated) if self._replicated is not None else jax.device_put(tree)

    def device_replay(self, phase: str) -> tuple[device_replay.ReplayArrays, Optional[int]]:
        """(arrays, vmap axis): the offline set once for all seeds (axis None), else one ring per seed (axis 0)."""
        self._sources(phase)  # checks the phase
        if phase == "pretrain":  # every seed samples the offline set, which never changes: copy it once
            if self._offline_on_device is None:
                self._offline_on_device = self._put(device_replay.host_arrays(
                    self.offline, self.state_mean, self.state_std, self.reward_scale))
            return self._offline_on_device, None
        written = [r.take_written_rows() for r in self.replays]
        capacity = capacity_bucket(max(r.rows for r in self.replays))
        current = self._online_on_device
        if current is None or current.rewards.shape[1] != capacity or any(w is None for w in written):
            self._online_on_device = self._put(self._stacked(capacity))
        else:
            self._online_on_device = self._write(current, written)
        return self._online_on_device, 0

    def _stacked(self, capacity: int) -> device_replay.ReplayArrays:
        """Every ring, padded to `capacity` rows and stacked [S, capacity, ...] on the host."""
        rings = [device_replay.host_arrays(r.flat, self.state_mean, self.state_std, self.reward_scale, capacity)
                 for r in self.replays]
        return jax.tree.map(lambda *xs: np.stack(xs), *rings)

    def _write(self, current: device_replay.ReplayArrays, written: Sequence[np.ndarray]) -> device_replay.ReplayArrays:
        """Scatter the rows written since the last call into the device rings (padded to a bucket)."""
        capacity = int(current.rewards.shape[1])
        seed_index = np.concatenate([np.full(len(w), s, np.int32) for s, w in enumerate(written)])
        row_index = np.concatenate(written).astype(np.int32)
        pad = write_bucket(len(row_index)) - len(row_index)
        flats = [r.flat for r in self.replays]
        values = {}
        for key in device_replay.ROW_KEYS:
            rows = np.concatenate([getattr(f, key)[w] for f, w in zip(flats, written)])
            values[key] = np.concatenate([rows, np.zeros((pad,) + rows.shape[1:], rows.dtype)])
        scalars = [np.array([getattr(f, k) for f in flats], np.int32) for k in ("head", "size", "rows")]
        args = self._put((np.concatenate([seed_index, np.zeros(pad, np.int32)]),
                          np.concatenate([row_index, np.full(pad, capacity, np.int32)]),  # out of range: dropped
                          values, *scalars))
        return device_replay.write_rows(current, *args)

    # ------------------------------------------------------------------ host source
    def host_batches(self, phase: str, rngs: Sequence[np.random.Generator], chunk: int, interval: int,
                     batch_size: int) -> Batch:
        """[S, chunk, interval, B, ...] NumPy batches, seed s drawn with `rngs[s]`."""
        per_seed = []
        for s, (source, rng) in enumerate(zip(self._sources(phase), rngs)):
            key = (phase, s if phase == "online" else 0)  # every seed pretrains on the one offline set
            if key not in self._samplers:
                self._samplers[key] = sampler.SegmentSampler(
                    source, context_len=self.context_len, state_mean=self.state_mean, state_std=self.state_std,
                    reward_scale=self.reward_scale)
            flat = self._samplers[key].sample(rng, chunk * interval * batch_size)
            per_seed.append(jax.tree.map(lambda x: x.reshape((chunk, interval, batch_size) + x.shape[1:]), flat))
        return jax.tree.map(lambda *xs: np.stack(xs), *per_seed)
