"""Critics: an MLP on concat(state, action) applied at every sequence position.

The twin critics are one `nn.vmap` over the MLP with parameters stacked on axis 0, so
"two critics" is a number (`num_qs`), not two code paths. IQL adds a state-value MLP.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vitamin_jax.networks.initializers import TorchLinear


class MLPCritic(nn.Module):
    """Q(s, a): hidden Linear -> [non-affine LayerNorm] -> ReLU, then Linear(1)."""

    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: bool = False

    @nn.compact
    def __call__(self, states: jax.Array, actions: jax.Array) -> jax.Array:
        """states [..., S], actions [..., A] (A may be 0: a state-value net) -> [...]."""
        x = jnp.concatenate([states, actions], axis=-1)
        for i, width in enumerate(self.hidden_dims):
            x = TorchLinear(width, name=f"hidden_{i}")(x)
            if self.layer_norm:  # parameter-free, as the original's F.layer_norm
                x = nn.LayerNorm(epsilon=1e-5, use_bias=False, use_scale=False)(x)
            x = nn.relu(x)
        return TorchLinear(1, name="q")(x)[..., 0]


class CriticEnsemble(nn.Module):
    """`num_qs` independent MLP critics evaluated together: Q [num_qs, ...].

    With `with_value`, also a state-value MLP V(s) (`method="value"`), for IQL.
    """

    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: bool = False
    num_qs: int = 2
    with_value: bool = False

    def setup(self):
        ensemble = nn.vmap(
            MLPCritic,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_qs,
        )
        self.critics = ensemble(self.hidden_dims, self.layer_norm)
        if self.with_value:
            self.value_net = MLPCritic(self.hidden_dims, self.layer_norm)

    def __call__(self, states: jax.Array, actions: jax.Array) -> jax.Array:
        if self.with_value and self.is_initializing():  # create V's parameters too
            self.value(states)
        return self.critics(states, actions)

    def value(self, states: jax.Array) -> jax.Array:
        """V(s) [...] (IQL only)."""
        return self.value_net(states, jnp.zeros(states.shape[:-1] + (0,), states.dtype))
