"""Segment sampler: left-padded K-step windows with hindsight RTG (DESIGN.md section 4).

One uniform draw over all N stored transitions gives both the trajectory (probability
len_i / N, the original's length weighting) and the start index (uniform in [0, len_i - 1]),
so a batch is pure index arithmetic and gathers: no Python loop over samples.
"""

from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer, flatten_trajectories
from vitamin_jax.types import Batch

ACTION_CLIP = 1.0 - 1e-6  # keeps atanh finite in the squashed-Gaussian log-likelihood
MAX_TIMESTEP = 999  # the original clips timesteps to MAX_EPISODE_LEN - 1
PAD_DONE = 2.0  # the original's done value for padded slots

Source = Union[Sequence[Mapping[str, np.ndarray]], FlatTrajectories, ReplayBuffer]


class SegmentSampler:
    """Draws `Batch`es of K-step windows from trajectories, a `FlatTrajectories` or a `ReplayBuffer`.

    Given a `ReplayBuffer`, the sampler reads its current flat arrays at each call, so one
    sampler can serve the whole online phase.
    """

    def __init__(self, source: Source, *, context_len: int, state_mean: np.ndarray, state_std: np.ndarray,
                 reward_scale: float, action_clip: float = ACTION_CLIP, max_timestep: int = MAX_TIMESTEP):
        if isinstance(source, (ReplayBuffer, FlatTrajectories)):
            self._source = source
        else:
            self._source = flatten_trajectories(source)
        self.context_len = int(context_len)
        self.state_mean = np.asarray(state_mean, np.float32)
        self.state_std = np.asarray(state_std, np.float32)
        self.reward_scale = np.float32(reward_scale)
        self.action_clip = float(action_clip)
        self.max_timestep = int(max_timestep)

    @property
    def flat(self) -> FlatTrajectories:
        return self._source.flat if isinstance(self._source, ReplayBuffer) else self._source

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """A batch of `batch_size` windows; all randomness comes from `rng`.

        Shapes: states/next_states [B, K, S], actions [B, K, A], rewards/dones/mask [B, K],
        rtg [B, K + 1], timesteps [B, K] int32.
        """
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
        K = self.context_len
        row0 = (flat.head + np.asarray(start, np.int64)) % flat.rows  # [B] ring row of the window start
        left = flat.remaining[row0].astype(np.int64)  # steps from the start to the trajectory end
        tlen = np.minimum(left, K)
        offset = np.arange(K + 1)[None, :] - (K - tlen)[:, None]  # [B, K+1] steps from the start; < 0: pad
        step = offset[:, :K]
        real = step >= 0  # [B, K]
        pad = ~real
        rows = (row0[:, None] + np.maximum(step, 0)) % flat.rows  # padded slots read the start row, then reset

        def gather(array: np.ndarray, pad_value: float) -> np.ndarray:
            values = np.take(array, rows, axis=0)
            values[pad] = pad_value
            return values

        # Padding comes before normalisation, so padded states hold (0 - mean) / std, as the original.
        padded_state = (np.float32(0.0) - self.state_mean) / self.state_std

        def states_of(array: np.ndarray) -> np.ndarray:
            values = np.take(array, rows, axis=0)
            np.subtract(values, self.state_mean, out=values)
            np.divide(values, self.state_std, out=values)
            values[pad] = padded_state
            return values

        actions = gather(flat.actions, 0.0)
        np.clip(actions, -self.action_clip, self.action_clip, out=actions)
        # K+1 RTG entries: suffix sums from the window start; 0 past the trajectory end and in padding.
        in_traj = (offset >= 0) & (offset < left[:, None])
        rtg_rows = (row0[:, None] + np.clip(offset, 0, (left - 1)[:, None])) % flat.rows
        rtg = np.take(flat.rtg, rtg_rows)
        rtg[~in_traj] = 0.0
        rtg *= self.reward_scale
        timesteps = np.minimum(flat.positions[row0][:, None] + step, self.max_timestep).astype(np.int32)
        timesteps[pad] = 0
        return Batch(
            states=states_of(flat.observations),
            actions=actions,
            next_states=states_of(flat.next_observations),
            rewards=gather(flat.rewards, 0.0),
            dones=gather(flat.terminals, PAD_DONE),
            rtg=rtg,
            timesteps=timesteps,
            mask=real.astype(np.float32),
        )
