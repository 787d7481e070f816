"""Effect of bf16 transformer compute on the training loss (params and optimiser stay fp32).

Trains the small model (d 128, 3 layers, K 5) with TD3+ODT pretraining coefficients on a
fixed synthetic regression task (actions a fixed function of the states, rewards a fixed
function of (s, a)), once with float32 and once with bfloat16 matmuls, same seed and
batches, and prints both loss curves. Usage: python experiments/bf16_check.py [--updates 300]
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitamin_jax.agent import Learner  # noqa: E402
from vitamin_jax.algorithms import phase_coefficients  # noqa: E402
from vitamin_jax.configuration import load_config  # noqa: E402
from vitamin_jax.types import Batch  # noqa: E402

S, A = 17, 6


def task_batches(updates: int, batch: int, k: int, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    shape = (updates, 1, batch, k)
    states = rng.normal(size=shape + (S,)).astype(np.float32)
    weights = np.random.default_rng(99).normal(size=(S, A)).astype(np.float32) / np.sqrt(S)
    actions = (0.9 * np.tanh(states @ weights)).astype(np.float32)
    rewards = (states[..., 0] * actions[..., 0] - actions[..., 1] ** 2).astype(np.float32)
    return Batch(states=states, actions=actions, next_states=rng.normal(size=shape + (S,)).astype(np.float32),
                 rewards=rewards, dones=np.ones(shape, np.float32),
                 rtg=rng.normal(size=shape[:-1] + (k + 1,)).astype(np.float32),
                 timesteps=np.broadcast_to(np.arange(k, dtype=np.int32), shape).copy(), mask=np.ones(shape, np.float32))


def curve(dtype: str, updates: int, batch: int) -> dict:
    c = load_config("configs/base.py")
    c.model.embed_dim, c.model.n_layer, c.model.context_len, c.model.compute_dtype = 128, 3, 5, dtype
    c.rl.actor_update_interval = 1
    c.actor.learning_rate, c.actor.warmup_steps = 1e-3, 50
    learner = Learner.from_config(c, S, A, critic_layer_norm=False)
    state = learner.init(jax.random.PRNGKey(0))
    _, metrics = jax.jit(learner.update_many)(state, task_batches(updates, batch, 5), phase_coefficients(c, "pretrain"))
    return {k: np.asarray(v) for k, v in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    fp32, bf16 = curve("float32", args.updates, args.batch), curve("bfloat16", args.updates, args.batch)
    window = max(1, args.updates // 10)
    print(f"{'updates':>8} {'sup_loss fp32':>14} {'sup_loss bf16':>14} {'critic fp32':>12} {'critic bf16':>12}")
    for end in range(window, args.updates + 1, window):
        part = slice(end - window, end)
        print(f"{end:>8} {fp32['sup_loss'][part].mean():14.5f} {bf16['sup_loss'][part].mean():14.5f} "
              f"{fp32['critic_loss'][part].mean():12.5f} {bf16['critic_loss'][part].mean():12.5f}")
    last = slice(-window, None)
    rel = abs(bf16["sup_loss"][last].mean() - fp32["sup_loss"][last].mean()) / fp32["sup_loss"][last].mean()
    print(f"final-window supervised loss: fp32 {fp32['sup_loss'][last].mean():.5f}, "
          f"bf16 {bf16['sup_loss'][last].mean():.5f} (relative difference {100 * rel:.1f}%)")


if __name__ == "__main__":
    main()
