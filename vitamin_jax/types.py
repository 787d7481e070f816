"""Shared data types: the training batch that flows from sampler to update step."""

from __future__ import annotations

from typing import Any

import flax.struct

Array = Any  # a numpy or jax array


@flax.struct.dataclass
class Batch:
    """A batch of left-padded K-step windows (docs/design.md#segment-sampler).

    Holds NumPy arrays on the host or jax arrays on device; it is a pytree either way.

    Attributes:
      states: [B, K, S] normalised states (padded slots hold -mean/std, as the original).
      actions: [B, K, A] dataset actions clipped to +-(1 - 1e-6); padded slots 0.
      next_states: [B, K, S] normalised next states.
      rewards: [B, K] rewards after the per-family division, *not* times reward_scale.
      dones: [B, K] terminal flags as float; padded slots hold 2.
      rtg: [B, K + 1] undiscounted return-to-go times reward_scale; rtg[:, t + 1] is the
        next step's RTG (0 after the trajectory end).
      timesteps: [B, K] int32 absolute timesteps capped at MAX_TIMESTEP (999); padded slots 0.
      mask: [B, K] float, 1 for real steps and 0 for left padding.
    """

    states: Array
    actions: Array
    next_states: Array
    rewards: Array
    dones: Array
    rtg: Array
    timesteps: Array
    mask: Array
