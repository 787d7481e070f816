"""The paper's motivation experiment (Sec. 3.1, Fig. 2): a single-state MDP, in JAX.

Supervised RTG-conditioned finetuning (ODT) cannot climb from low-return data to a reward
peak it never saw, while an RL gradient (DDPG, ODT+DDPG, ODT+TD3) can follow Q uphill.
The protocol is the original's (motivation/motivation.py), run for many seeds at once:
- r(a) = (a+1)^2 for a <= 0, 1 - 2a otherwise; data: 100 actions in (-1, -0.95), 28 in
  (0.5, 1), each with its reward as RTG (one-step episodes).
- MLPs 128-128 ReLU (tanh actors), Adam 1e-3, batch 32, one pass over a random permutation
  per epoch (size // 32 steps), float64; 5 pretraining epochs; optimisers re-created; 16
  finetuning epochs, each rolling out 64 actions at input 1 with noise 0.02 (U - 0.5),
  appending them (hindsight RTG = achieved reward), then training one epoch.
Methods: odt (MSE actor pi(RTG)); ddpg (critic Q(a), actor pi(1), -Q); odt_ddpg (critic
Q(RTG, a), actor loss 0.02 MSE - Q); odt_td3 (twin critics, actor uses min(Q1, Q2), actor
updated every 2 critic steps; with one-step episodes the TD target is the reward itself, so
target networks and target policy smoothing have nothing to act on and are omitted).
Beyond the paper's figure, the ablation gradients: odt_sac (tanh-Gaussian actor, loss
0.02 NLL - (T H + Q) at a reparameterised sample, T = 0.01 fixed; rollouts use the mean)
and odt_iql (V(RTG) by expectile regression (0.7) on Q(RTG, a) - V; actor loss 0.02 MSE
+ exp(3 adv)-weighted squared error, weights clipped at 100: it can only re-weight data).
Usage: python experiments/toy_mdp.py --out DIR [--seeds 10] [--torch-init]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

METHODS = ("odt", "ddpg", "odt_ddpg", "odt_td3", "odt_sac", "odt_iql")
# method: (critic input, number of critics, actor-update interval, supervised weight, RL kind)
METHOD_TABLE = {
    "odt": (None, 0, 1, 1.0, "none"),
    "ddpg": ("action", 1, 1, 0.0, "q"),
    "odt_ddpg": ("rtg_action", 1, 1, 0.02, "q"),
    "odt_td3": ("rtg_action", 2, 2, 0.02, "q"),
    "odt_sac": ("rtg_action", 2, 1, 0.02, "sac"),
    "odt_iql": ("rtg_action", 2, 1, 0.02, "iql"),
}
SAC_TEMPERATURE, IQL_EXPECTILE, IQL_BETA, IQL_CLIP = 0.01, 0.7, 3.0, 100.0
NUM_LOW, NUM_HIGH, ROLLOUTS, BATCH = 100, 28, 64, 32
PRETRAIN_EPOCHS, FINETUNE_EPOCHS, LR, HIDDEN = 5, 16, 1e-3, 128
MAX_DATA = NUM_LOW + NUM_HIGH + ROLLOUTS * FINETUNE_EPOCHS


def reward(a: jax.Array) -> jax.Array:
    a = jnp.clip(a, -1.0, 1.0)
    return jnp.where(a <= 0, (a + 1.0) ** 2, 1.0 - 2.0 * a)


def grad_steps_per_epoch() -> list[int]:
    """Pretraining epochs, then finetuning epoch i trains on 128 + 64 (i + 1) samples."""
    n0 = NUM_LOW + NUM_HIGH
    return [n0 // BATCH] * PRETRAIN_EPOCHS + [(n0 + ROLLOUTS * (i + 1)) // BATCH for i in range(FINETUNE_EPOCHS)]


def offline_actions(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([0.05 * rng.random(NUM_LOW) - 1.0, 0.5 * rng.random(NUM_HIGH) + 0.5])


# ----------------------------------------------------------------------------- networks
def init_mlp(key: jax.Array, fan_in: int, torch_init: bool, outputs: int = 1) -> list:
    sizes = [fan_in, HIDDEN, HIDDEN, outputs]
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        wkey, bkey = jax.random.split(jax.random.fold_in(key, i))
        if torch_init:  # torch.nn.Linear: weights and biases U(+-1/sqrt(fan_in))
            bound = 1.0 / np.sqrt(n_in)
            w = jax.random.uniform(wkey, (n_in, n_out), jnp.float64, -bound, bound)
            b = jax.random.uniform(bkey, (n_out,), jnp.float64, -bound, bound)
        else:  # Flax Dense default: lecun normal weights, zero biases
            w = jax.nn.initializers.lecun_normal()(wkey, (n_in, n_out), jnp.float64)
            b = jnp.zeros(n_out, jnp.float64)
        params.append((w, b))
    return params


def mlp_outputs(params: list, x: jax.Array) -> jax.Array:
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def mlp(params: list, x: jax.Array) -> jax.Array:
    return mlp_outputs(params, x)[..., 0]


def actor(params, rtg):
    """The mean action (for a Gaussian actor, tanh of its mean)."""
    return jnp.tanh(mlp(params, rtg[..., None]))


def gaussian_actor(params, rtg):
    """(mu, log_std) of a tanh-Gaussian actor; log-std squashed into [-5, 2] as the ODT head."""
    out = mlp_outputs(params, rtg[..., None])
    return out[..., 0], -5.0 + 3.5 * (jnp.tanh(out[..., 1]) + 1.0)


def tanh_gaussian_log_prob(x, mu, log_std):
    """log pi(tanh(x)) for pre-tanh x."""
    normal = -0.5 * ((x - mu) / jnp.exp(log_std)) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi)
    return normal - 2.0 * (jnp.log(2.0) - x - jax.nn.softplus(-2.0 * x))


def critic_inputs(kind: str, rtg: jax.Array, action: jax.Array) -> jax.Array:
    return action[..., None] if kind == "action" else jnp.stack([rtg, action], axis=-1)


# ----------------------------------------------------------------------------- one run
def make_run(method: str, torch_init: bool):
    """A jittable run(key, actions0) -> (epoch rewards [17], final actions [64])."""
    kind, num_critics, interval, sup_weight, rl_kind = METHOD_TABLE[method]
    uses_rtg = method != "ddpg"  # DDPG's actor sees the constant input 1
    tx = optax.adam(LR)

    def actor_input(rtg):
        return rtg if uses_rtg else jnp.ones_like(rtg)

    def q_min(critics, rtg, a):
        return jnp.min(jnp.stack([mlp(c, critic_inputs(kind, rtg, a)) for c in critics[:num_critics]]), axis=0)

    def critic_loss(critics, rtg, a, r):
        loss = sum(jnp.mean((mlp(c, critic_inputs(kind, rtg, a)) - r) ** 2) for c in critics[:num_critics])
        if rl_kind == "iql":  # V(RTG) by expectile regression towards min Q(RTG, a_data)
            diff = jax.lax.stop_gradient(q_min(critics, rtg, a)) - mlp(critics[-1], rtg[..., None])
            loss = loss + jnp.mean(jnp.where(diff < 0, 1 - IQL_EXPECTILE, IQL_EXPECTILE) * diff**2)
        return loss

    def actor_loss(actor_params, critics, rtg, a, key):
        critics = jax.lax.stop_gradient(critics)
        if rl_kind == "sac":
            mu, log_std = gaussian_actor(actor_params, actor_input(rtg))
            x_data = jnp.arctanh(jnp.clip(a, -1 + 1e-6, 1 - 1e-6))
            nll = -jnp.mean(tanh_gaussian_log_prob(x_data, mu, log_std))
            x = mu + jnp.exp(log_std) * jax.random.normal(key, mu.shape, mu.dtype)
            entropy = -tanh_gaussian_log_prob(x, mu, log_std)
            return sup_weight * nll - jnp.mean(SAC_TEMPERATURE * entropy + q_min(critics, rtg, jnp.tanh(x)))
        pred = actor(actor_params, actor_input(rtg))
        loss = sup_weight * jnp.mean((pred - a) ** 2)
        if rl_kind == "q":
            loss = loss - jnp.mean(q_min(critics, rtg, pred))
        elif rl_kind == "iql":
            advantage = q_min(critics, rtg, a) - mlp(critics[-1], rtg[..., None])
            weights = jnp.minimum(jnp.exp(IQL_BETA * advantage), IQL_CLIP)
            loss = loss + jnp.mean(weights * (pred - a) ** 2)  # -w log pi with log pi = -(a_hat - a)^2
        return loss

    def train_epoch(carry, key, n):
        """One pass over a random permutation of the first n samples: n // 32 steps."""
        params, opt, data_a, data_r, step = carry
        order = jnp.argsort(jnp.where(jnp.arange(MAX_DATA) < n, jax.random.uniform(key, (MAX_DATA,)), 2.0))

        def body(i, c):
            params, opt, step = c
            idx = jax.lax.dynamic_slice(order, (i * BATCH,), (BATCH,))
            a, r = data_a[idx], data_r[idx]
            rtg = r  # hindsight: the stored RTG is the achieved reward
            actor_p, critics = params
            actor_opt, critic_opt = opt
            if critics:
                grads = jax.grad(critic_loss)(critics, rtg, a, r)
                updates, critic_opt = tx.update(grads, critic_opt, critics)
                critics = optax.apply_updates(critics, updates)

            def actor_update(args):
                actor_p, actor_opt = args
                grads = jax.grad(actor_loss)(actor_p, critics, rtg, a, jax.random.fold_in(key, 10_000 + i))
                updates, actor_opt = tx.update(grads, actor_opt, actor_p)
                return optax.apply_updates(actor_p, updates), actor_opt

            actor_p, actor_opt = jax.lax.cond(step % interval == 0, actor_update, lambda x: x, (actor_p, actor_opt))
            return (actor_p, critics), (actor_opt, critic_opt), step + 1

        params, opt, step = jax.lax.fori_loop(0, n // BATCH, body, (params, opt, step))
        return params, opt, data_a, data_r, step

    def rollout(actor_params, key):
        mean = actor(actor_params, jnp.ones(ROLLOUTS))
        actions = jnp.clip(mean + 0.02 * (jax.random.uniform(key, (ROLLOUTS,)) - 0.5), -1.0, 1.0)
        return actions, reward(actions)

    def run(key, actions0):
        init_key, key = jax.random.split(key)
        actor_p = init_mlp(jax.random.fold_in(init_key, 0), 1, torch_init, outputs=2 if rl_kind == "sac" else 1)
        critics = [init_mlp(jax.random.fold_in(init_key, 1 + i), 1 if kind == "action" else 2, torch_init)
                   for i in range(num_critics)]
        if rl_kind == "iql":  # the state-value net V(RTG) rides along with the critics
            critics.append(init_mlp(jax.random.fold_in(init_key, 99), 1, torch_init))
        params = (actor_p, critics)
        new_opt = lambda p: (tx.init(p[0]), tx.init(p[1]))
        n0 = NUM_LOW + NUM_HIGH
        data_a = jnp.zeros(MAX_DATA).at[:n0].set(actions0)
        data_r = jnp.zeros(MAX_DATA).at[:n0].set(reward(actions0))
        carry = (params, new_opt(params), data_a, data_r, 0)
        for e in range(PRETRAIN_EPOCHS):
            carry = train_epoch(carry, jax.random.fold_in(key, 1000 + e), n0)
        params, _, data_a, data_r, _ = carry
        carry = (params, new_opt(params), data_a, data_r, 0)  # optimisers re-created, as the original
        epoch_rewards = []
        for e in range(FINETUNE_EPOCHS):
            params = carry[0]
            actions, rewards = rollout(params[0], jax.random.fold_in(key, 2000 + e))
            epoch_rewards.append(jnp.mean(rewards))
            n = n0 + ROLLOUTS * e
            data_a = jax.lax.dynamic_update_slice(carry[2], actions, (n,))
            data_r = jax.lax.dynamic_update_slice(carry[3], rewards, (n,))
            carry = train_epoch((carry[0], carry[1], data_a, data_r, carry[4]), jax.random.fold_in(key, 3000 + e),
                                n + ROLLOUTS)
        actions, rewards = rollout(carry[0][0], jax.random.fold_in(key, 4000))  # after the last epoch
        epoch_rewards.append(jnp.mean(rewards))
        return jnp.stack(epoch_rewards), actions

    return run


def run_all(seeds: list[int], torch_init: bool) -> dict:
    if not jax.config.jax_enable_x64:
        raise RuntimeError("run_all needs float64: call jax.config.update('jax_enable_x64', True) first")
    actions0 = jnp.asarray(np.stack([offline_actions(s) for s in seeds]))
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    results = {}
    for method in METHODS:
        rewards, actions = jax.jit(jax.vmap(make_run(method, torch_init)))(keys, actions0)
        results[method] = (np.asarray(rewards), np.asarray(actions))
    return results


def summarize(results: dict, seeds: list[int], torch_init: bool) -> dict:
    steps = grad_steps_per_epoch()
    cumulative = np.cumsum(steps)
    # Rollout e happens after pretraining and e finetuning epochs; the last after all of them.
    x = [int(cumulative[PRETRAIN_EPOCHS - 1 + e]) for e in range(FINETUNE_EPOCHS + 1)]
    out = {"config": {"seeds": seeds, "torch_init": torch_init, "pretrain_epochs": PRETRAIN_EPOCHS,
                      "finetune_epochs": FINETUNE_EPOCHS, "rollouts_per_epoch": ROLLOUTS, "batch": BATCH, "lr": LR},
           "grad_steps_per_epoch": steps, "grad_steps_at_rollout": x}
    for method, (rewards, actions) in results.items():
        final = rewards[:, -1]
        out[method] = {
            "final_per_seed": final.tolist(), "final_mean": float(final.mean()), "final_median": float(np.median(final)),
            "reward_per_epoch_mean": rewards.mean(axis=0).tolist(),
            "reward_per_epoch_per_seed": rewards.tolist(), "final_actions_per_seed": actions.tolist(),
        }
    return out


def plot(summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = summary["grad_steps_at_rollout"]
    for i, method in enumerate(METHODS):
        per_seed = np.array(summary[method]["reward_per_epoch_per_seed"])
        color = f"C{i}"
        left.plot(x, per_seed.mean(axis=0), color=color, marker="o", label=f"{method} (mean)")
        left.fill_between(x, per_seed.min(axis=0), per_seed.max(axis=0), color=color, alpha=0.15)
        actions = np.array(summary[method]["final_actions_per_seed"]).reshape(-1)
        right.hist(actions, bins=np.linspace(-1, 1, 81), color=color, alpha=0.5, label=method, density=True)
    grid = np.linspace(-1, 1, 201)
    twin = right.twinx()
    twin.plot(grid, np.asarray(reward(jnp.asarray(grid))), color="green", linestyle="--", label="r(a)")
    twin.set_ylabel("reward r(a)")
    left.set_xlabel("gradient steps")
    left.set_ylabel("mean rollout reward (shaded: min-max over seeds)")
    left.set_title(f"single-state MDP, {len(summary['config']['seeds'])} seeds")
    left.legend()
    right.set_xlabel("action")
    right.set_ylabel("density of final rollout actions (all seeds)")
    right.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_table(summary: dict) -> None:
    print(f"{'method':<10} {'median':>8} {'mean':>8} {'best':>8} {'worst':>8}")
    for method in METHODS:
        final = np.array(summary[method]["final_per_seed"])
        print(f"{method:<10} {np.median(final):8.3f} {final.mean():8.3f} {final.max():8.3f} {final.min():8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0 .. N-1)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--torch-init", action="store_true", help="PyTorch-style uniform fan-in initialisation")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)  # float64 as the original (set here: importing must not leak it)
    start = time.time()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    summary = summarize(run_all(seeds, args.torch_init), seeds, args.torch_init)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    plot(summary, os.path.join(args.out, "toy_mdp.png"))
    print_table(summary)
    print(f"wall time {time.time() - start:.1f} s; wrote {args.out}/results.json and toy_mdp.png")


if __name__ == "__main__":
    main()
