"""Initialisers that reproduce the original's PyTorch defaults where it relied on them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

# GPT-2 submodules: N(0, 0.02) weights, zero biases (no 1/sqrt(2 n_layer) rescaling).
gpt2_kernel_init = nn.initializers.normal(stddev=0.02)
# torch.nn.Linear default: kaiming_uniform(a=sqrt(5)) == U(+-1/sqrt(fan_in)).
torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
    """torch.nn.Linear's default bias: U(+-1/sqrt(fan_in))."""
    bound = 1.0 / jnp.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class TorchLinear(nn.Module):
    """A Dense layer initialised like torch.nn.Linear (the original's DT-level layers)."""

    features: int
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(
            self.features,
            kernel_init=torch_kernel_init,
            bias_init=torch_bias_init(x.shape[-1]),
            dtype=self.dtype,
            name="dense",
        )(x)
