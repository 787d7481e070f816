"""What a run trains on: the offline set, one replay buffer per seed, and where batches come from.

`RunReplay` owns the data side of a run (docs/design.md#data-flow). Pretraining samples the
offline set (one device copy shared by every seed, made once); online iterations sample each
seed's own replay buffer. Two batch sources, chosen by `config.train.sampler`:

- 'device': `device_replay(phase)` gives the ring(s) as device arrays, kept by one
  `vitamin_jax.data.device_replay.DeviceReplay` (layout, incremental copy); the trainer draws
  windows inside its jitted scan with `device_replay.sample`;
- 'host': `host_batches(...)` draws windows per seed with each seed's NumPy generator and
  returns [S, chunk, interval, B, ...] arrays for `Learner.update_many`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import numpy as np

from vitamin_jax.data import sampler
from vitamin_jax.data.device_replay import DeviceReplay, ReplayArrays
from vitamin_jax.data.preprocess import OfflineData
from vitamin_jax.data.replay import ReplayBuffer, flatten_trajectories
from vitamin_jax.schema import PHASES
from vitamin_jax.types import Batch


class RunReplay:
    """The offline set and the per-seed replay buffers of one run, and batches drawn from them."""

    def __init__(self, data: OfflineData, *, num_seeds: int, replay_size: int, context_len: int,
                 reward_scale: float, replicated: Optional[Any] = None):
        """replicated: a sharding for device copies under data parallelism (None: default device)."""
        self.state_mean, self.state_std = data.state_mean, data.state_std
        self.context_len, self.reward_scale = int(context_len), float(reward_scale)
        self.offline = flatten_trajectories(data.trajectories)
        self.replays = [ReplayBuffer(replay_size, data.trajectories) for _ in range(num_seeds)]
        self.device = DeviceReplay(self.state_mean, self.state_std, self.reward_scale, replicated)
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
        self.device.forget_online()

    def _sources(self, phase: str) -> list:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        return [self.offline] * len(self.replays) if phase == "pretrain" else self.replays

    # ------------------------------------------------------------------ device source
    def device_replay(self, phase: str) -> tuple[ReplayArrays, Optional[int]]:
        """(arrays, vmap axis): the offline set once for all seeds (axis None), else one ring per seed (axis 0)."""
        self._sources(phase)  # checks the phase
        if phase == "pretrain":  # every seed samples the offline set, which never changes
            return self.device.offline(self.offline), None
        return self.device.online(self.replays), 0

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
