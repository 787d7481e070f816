"""The Decision Transformer actor (docs/design.md#actor-network).

Tokens are interleaved per step as (R_t, s_t, a_t); the action for step t is read from the
hidden state at the *state* token, so it sees R_<=t, s_<=t, a_<t. Pre-LayerNorm GPT-2
blocks with a ReLU MLP, no positional embedding unless `ordering` is set. Only the state
tokens of the last block are read, so it computes only those (docs/design.md#actor-network).
"""

from __future__ import annotations

from typing import Optional

import chex
import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from vitamin_jax.constants import MAX_EPISODE_LEN
from vitamin_jax.networks.initializers import TorchLinear, gpt2_kernel_init

MASK_VALUE = -1e4  # the original's mask fill (not -inf): fully padded rows stay finite
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
LAYER_NORM_EPS = 1e-5


@flax.struct.dataclass
class PolicyOutput:
    """Actor outputs at every position.

    action: [B, K, A] the mean action (tanh of the head; tanh(mu) when stochastic).
    mu, log_std: [B, K, A] pre-tanh Gaussian parameters (stochastic head only, else None).
    """

    action: jax.Array
    mu: Optional[jax.Array] = None
    log_std: Optional[jax.Array] = None


def _dropout_rows(dropout: nn.Dropout, x: jax.Array, axis: int, deterministic: bool) -> jax.Array:
    """Dropout on the state-token rows `x` (every third along `axis`, from 1) with the mask the
    full [.., 3K, ..] tensor would get, so pruning the last block changes no random draw."""
    if deterministic:
        return x
    shape = list(x.shape)
    shape[axis] *= 3
    index = (slice(None),) * axis + (slice(1, None, 3),)
    return dropout(jnp.zeros(shape, x.dtype).at[index].set(x), deterministic=False)[index]


class CausalSelfAttention(nn.Module):
    embed_dim: int
    n_head: int
    dropout: float
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array, bias: jax.Array, deterministic: bool, state_rows_only: bool = False) -> jax.Array:
        """[B, T, D] -> [B, T, D], or [B, T/3, D] at the state tokens only (`state_rows_only`)."""
        batch, length, _ = x.shape
        head_dim = self.embed_dim // self.n_head
        dense = lambda n, name: nn.Dense(n, kernel_init=gpt2_kernel_init, dtype=self.dtype, name=name)
        qkv = dense(3 * self.embed_dim, "c_attn")(x)
        q, k, v = jnp.split(qkv.reshape(batch, length, 3, self.n_head, head_dim), 3, axis=2)
        q, k, v = (t[:, :, 0] for t in (q, k, v))  # [B, T, H, Dh]
        if state_rows_only:  # every key and value, queries at the state tokens only
            q, bias = q[:, 1::3], bias[:, :, 1::3]
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(head_dim).astype(q.dtype)
        # Softmax in float32 even under bf16 compute.
        weights = jax.nn.softmax(scores.astype(jnp.float32) + bias, axis=-1)
        attn_dropout, out_dropout = nn.Dropout(self.dropout), nn.Dropout(self.dropout)
        if state_rows_only:
            weights = _dropout_rows(attn_dropout, weights, 2, deterministic)
        else:
            weights = attn_dropout(weights, deterministic=deterministic)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights.astype(v.dtype), v)
        out = dense(self.embed_dim, "c_proj")(out.reshape(batch, q.shape[1], self.embed_dim))
        if state_rows_only:
            return _dropout_rows(out_dropout, out, 1, deterministic)
        return out_dropout(out, deterministic=deterministic)


class Block(nn.Module):
    """Pre-LN GPT-2 block: x + Attn(LN(x)), then x + MLP(LN(x)) with a 4d ReLU MLP.

    `state_rows_only` (the last block) computes the output at the state tokens only, the
    rows the action heads read: the same values for 1/3 of the MLP and projection work.
    """

    embed_dim: int
    n_head: int
    dropout: float
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array, bias: jax.Array, deterministic: bool, state_rows_only: bool = False) -> jax.Array:
        h = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="ln_1")(x)
        attn = CausalSelfAttention(self.embed_dim, self.n_head, self.dropout, self.dtype, name="attn")(
            h, bias, deterministic, state_rows_only
        )
        x = (x[:, 1::3] if state_rows_only else x) + attn
        h = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="ln_2")(x)
        h = nn.Dense(4 * self.embed_dim, kernel_init=gpt2_kernel_init, dtype=self.dtype, name="c_fc")(h)
        h = nn.Dense(self.embed_dim, kernel_init=gpt2_kernel_init, dtype=self.dtype, name="c_proj")(
            nn.relu(h)
        )
        dropout = nn.Dropout(self.dropout)
        if state_rows_only:
            return x + _dropout_rows(dropout, h, 1, deterministic)
        return x + dropout(h, deterministic=deterministic)


def attention_bias(mask: jax.Array) -> jax.Array:
    """Additive attention bias [B, 1, 3K, 3K] from a step mask [B, K]: causal + key padding."""
    token_mask = jnp.repeat(mask, 3, axis=1)  # (R, s, a) of a step share its mask
    length = token_mask.shape[1]
    causal = jnp.tril(jnp.ones((length, length), dtype=bool))
    causal_bias = jnp.where(causal, 0.0, MASK_VALUE)
    key_bias = (1.0 - token_mask.astype(jnp.float32)) * MASK_VALUE
    return causal_bias[None, None] + key_bias[:, None, None, :]


class DecisionTransformer(nn.Module):
    """Decision Transformer with a deterministic tanh head or a tanh-Gaussian head.

    Call with states [B, K, S], actions [B, K, A], rtg [B, K] (model input, i.e. the
    batch's rtg[:, :-1]), timesteps [B, K] int, mask [B, K]; `deterministic` switches
    dropout off (target actor, rollouts, evaluation).
    """

    state_dim: int
    act_dim: int
    embed_dim: int = 512
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.1
    stochastic: bool = False
    ordering: int = 0
    max_ep_len: int = MAX_EPISODE_LEN
    dtype: jnp.dtype = jnp.float32  # compute dtype; parameters stay float32
    prune_last_block: bool = True  # the last block at the state tokens only; False: every token (the reference)

    @nn.compact
    def __call__(
        self,
        states: jax.Array,
        actions: jax.Array,
        rtg: jax.Array,
        timesteps: jax.Array,
        mask: jax.Array,
        *,
        deterministic: bool,
    ) -> PolicyOutput:
        batch, length = states.shape[:2]
        chex.assert_shape(states, (batch, length, self.state_dim))
        chex.assert_shape(actions, (batch, length, self.act_dim))
        chex.assert_shape([rtg, timesteps, mask], (batch, length))

        embed_r = TorchLinear(self.embed_dim, dtype=self.dtype, name="embed_return")(rtg[..., None])
        embed_s = TorchLinear(self.embed_dim, dtype=self.dtype, name="embed_state")(states)
        embed_a = TorchLinear(self.embed_dim, dtype=self.dtype, name="embed_action")(actions)
        if self.ordering:
            time_embedding = nn.Embed(
                self.max_ep_len, self.embed_dim, embedding_init=nn.initializers.normal(1.0),
                name="embed_ordering",
            )(jnp.clip(timesteps, 0, self.max_ep_len - 1))
            embed_r, embed_s, embed_a = (e + time_embedding for e in (embed_r, embed_s, embed_a))

        tokens = jnp.stack([embed_r, embed_s, embed_a], axis=2).reshape(batch, 3 * length, self.embed_dim)
        x = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="embed_ln")(tokens)
        x = nn.Dropout(self.dropout)(x, deterministic=deterministic)
        bias = attention_bias(mask)
        pruned = self.prune_last_block and self.n_layer > 0
        for i in range(self.n_layer):
            x = Block(self.embed_dim, self.n_head, self.dropout, self.dtype, name=f"block_{i}")(
                x, bias, deterministic, state_rows_only=pruned and i == self.n_layer - 1
            )
        if not pruned:
            x = x[:, 1::3]  # the state tokens: (R_t, s_t, a_t) per step
        state_tokens = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="ln_f")(x).astype(jnp.float32)

        if not self.stochastic:
            action = jnp.tanh(TorchLinear(self.act_dim, name="predict_action")(state_tokens))
            return PolicyOutput(action=action)
        head = lambda name: nn.Dense(
            self.act_dim, kernel_init=nn.initializers.orthogonal(), bias_init=nn.initializers.zeros, name=name
        )
        mu = head("mu")(state_tokens)
        log_std = jnp.tanh(head("log_std")(state_tokens))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)
        return PolicyOutput(action=jnp.tanh(mu), mu=mu, log_std=log_std)
