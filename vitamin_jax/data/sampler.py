"""Host-side segment sampling: the device path's windows, with starts from a NumPy generator.

`SegmentSampler` runs `vitamin_jax.data.device_replay.windows` (the one window-gathering
implementation) on the CPU device, so `train.sampler='host'` draws the same windows as the
device path given the same starts (docs/design.md#data-flow).
"""

from __future__ import annotations

import functools
from typing import Mapping, Optional, Sequence, Union

import jax
import numpy as np

from vitamin_jax.data.device_replay import ReplayArrays, to_device, windows
from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer, flatten_trajectories
from vitamin_jax.types import Batch

Source = Union[Sequence[Mapping[str, np.ndarray]], FlatTrajectories, ReplayBuffer]


@functools.partial(jax.jit, static_argnums=2)
def _windows_jit(replay: ReplayArrays, start: jax.Array, context_len: int) -> Batch:
    return windows(replay, start, context_len)


class SegmentSampler:
    """Host-side batches: starts from a NumPy generator, windows from `windows` on the CPU device.

    Given a `ReplayBuffer`, the sampler reads its current ring at each call (copied to the CPU
    device once per change of the ring), so one sampler can serve the whole online phase.
    """

    def __init__(self, source: Source, *, context_len: int, state_mean: np.ndarray, state_std: np.ndarray,
                 reward_scale: float):
        if isinstance(source, (ReplayBuffer, FlatTrajectories)):
            self._source = source
        else:
            self._source = flatten_trajectories(source)
        self.context_len = int(context_len)
        self.state_mean = np.asarray(state_mean, np.float32)
        self.state_std = np.asarray(state_std, np.float32)
        self.reward_scale = np.float32(reward_scale)
        self._cpu = jax.devices("cpu")[0]
        self._arrays: Optional[tuple[FlatTrajectories, ReplayArrays]] = None

    @property
    def flat(self) -> FlatTrajectories:
        return self._source.flat if isinstance(self._source, ReplayBuffer) else self._source

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """A batch of `batch_size` windows (NumPy arrays); all randomness comes from `rng`."""
        return self.windows(self.draw_starts(rng, batch_size))

    def draw_starts(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """[B] logical indices of window starts, uniform over all stored transitions.

        That is the original's two draws in one: trajectory i with probability len_i / N,
        then a start uniform in [0, len_i - 1].
        """
        return rng.integers(0, self.flat.num_transitions, size=batch_size)

    def windows(self, start: np.ndarray) -> Batch:
        """The batch of windows beginning at logical transition indices `start` [B] (deterministic)."""
        flat = self.flat
        if self._arrays is None or self._arrays[0] is not flat:
            self._arrays = (flat, to_device(flat, self.state_mean, self.state_std, self.reward_scale, self._cpu))
        start = jax.device_put(np.asarray(start, np.int32), self._cpu)
        return jax.device_get(_windows_jit(self._arrays[1], start, self.context_len))
