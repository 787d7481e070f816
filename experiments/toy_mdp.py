"""The paper's motivation experiment (Sec. 3.1, Fig. 2): a single-state MDP, in JAX.

Why it exists: it isolates the paper's claim that supervised RTG-conditioned finetuning (ODT)
cannot climb from low-return data to a reward peak it never saw, while an RL gradient through
a learned Q (DDPG, ODT+DDPG, ODT+TD3, ...) can follow Q uphill. It is a one-step bandit with a
continuous action, so every method trains in seconds and many seeds can be compared.

Protocol (the original motivation/motivation.py, run for many seeds at once):
- r(a) = (a+1)^2 for a <= 0, 1 - 2a otherwise, a clipped to [-1, 1]; the optimum is r(0) = 1.
- Offline data: 100 actions U(-1, -0.95) and 28 actions U(0.5, 1), each with its reward as
  RTG (one-step episodes), so the best RTG in the data is 0.0025.
- MLPs 128-128 ReLU, tanh output for actors, linear for critics; Adam 1e-3; batch 32; one pass
  over a random permutation per epoch (size // 32 steps); float64.
- 5 pretraining epochs; optimisers re-created; 16 finetuning epochs, each first rolling out 64
  actions pi(1) + 0.02 (U(0,1) - 0.5), appending (action, reward) with the achieved reward as
  the stored RTG (hindsight), then training one epoch on the grown data.
- Epoch reward = mean reward of that epoch's 64 rollouts; "final" = the last (16th) epoch's.

Methods are rows of METHODS: (critic input, actor input, actor loss) plus critic count, actor
update interval, actor head and critic loss, so a new gradient is one loss function and a row,
the same shape as the main pipeline's `vitamin_jax.algorithms`. The loss arithmetic it shares
with the pipeline (expectile loss, IQL weights, the tanh-Gaussian) comes from
`vitamin_jax.losses` and `vitamin_jax.distributions`.
- odt: actor pi(RTG), loss MSE(pi(r), a). No critic.
- ddpg: critic Q(a) regressed to r; actor pi(1) (constant input), loss -Q(pi(1)).
- odt_ddpg: critic Q(RTG, a) regressed to r; actor pi(RTG), loss 0.02 MSE(pi(r), a) -
  mean Q(r, pi(r)); the RL term is on from pretraining on.
- odt_td3 (beyond the paper): as odt_ddpg with two critics Q1, Q2 (independent inits), each
  regressed to r (losses summed); the actor term is -mean min(Q1, Q2)(r, pi(r)); the actor is
  updated on every 2nd batch of an epoch (batches 0, 2, 4, ...), the critics on every batch.
  In a one-step bandit the TD target is the reward itself, so TD3's target networks and its
  target policy smoothing (noise on the bootstrapped next action) have nothing to act on and
  are not implemented; no noise is added to the action in the actor term either. (The original
  ODT code's TD3 actor uses Q1 only; here the twins' min is used.)
- odt_sac (ablation): tanh-Gaussian actor, loss 0.02 NLL(a) - mean(T H + min Q) at a
  reparameterised sample, T = 0.01 fixed; rollouts use tanh(mean).
- odt_iql (ablation): V(RTG) by expectile regression (0.7) towards min Q(RTG, a_data); actor
  loss 0.02 MSE + min(exp(3 (Q - V)), 100)-weighted squared error: it can only re-weight data.

Networks start from PyTorch-style initialisation (torch.nn.Linear's U(+-1/sqrt(fan_in)) weights and
biases), as the original and the rest of our pipeline; `--init flax` uses Flax's Dense default
(lecun normal, zero bias) instead. The choice moves the results a lot (experiments/README.md).

Usage: python experiments/toy_mdp.py --out DIR [--seeds 10] [--first-seed 0] [--init torch|flax]
       [--epochs 16] [--methods odt,ddpg,...]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vitamin_jax import distributions, losses
from vitamin_jax.constants import ACTION_LIMIT

if __name__ == "__main__":  # float64 as the original; only when run, so importing never leaks it
    jax.config.update("jax_enable_x64", True)

NUM_LOW, NUM_HIGH, ROLLOUTS, BATCH = 100, 28, 64, 32
NUM_OFFLINE = NUM_LOW + NUM_HIGH
PRETRAIN_EPOCHS, FINETUNE_EPOCHS, LR, HIDDEN = 5, 16, 1e-3, 128
CONST_INPUT, NOISE_WIDTH, SUP_WEIGHT = 1.0, 0.02, 0.02
SAC_TEMPERATURE, IQL_EXPECTILE, IQL_BETA, IQL_CLIP = 0.01, 0.7, 3.0, 100.0

INITS = ("torch", "flax")  # --init choices; torch (the original's) is the default
Params = list  # an MLP: [(w, b), ...]


class Batch(NamedTuple):
    rtg: jax.Array  # hindsight RTG = the achieved reward
    action: jax.Array
    reward: jax.Array


# ----------------------------------------------------------------------------- environment and data
def reward(a: jax.Array) -> jax.Array:
    """r(a) = (a+1)^2 for a <= 0, 1 - 2a otherwise, with a clipped to [-1, 1] (numpy in, numpy out)."""
    xp = jnp if isinstance(a, jax.Array) else np
    a = xp.clip(a, -1.0, 1.0)
    return xp.where(a <= 0, (a + 1.0) ** 2, 1.0 - 2.0 * a)


def offline_dataset(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(actions, rewards): 100 actions in (-1, -0.95), then 28 in (0.5, 1), from the seed's own rng."""
    rng = np.random.default_rng(seed)
    actions = np.concatenate([0.05 * rng.random(NUM_LOW) - 1.0, 0.5 * rng.random(NUM_HIGH) + 0.5])
    return actions, reward(actions)


def grad_steps_per_epoch(finetune_epochs: int = FINETUNE_EPOCHS) -> list[int]:
    """5 pretraining epochs on 128 samples, then finetuning epoch i on 128 + 64 (i + 1)."""
    pretrain = [NUM_OFFLINE // BATCH] * PRETRAIN_EPOCHS
    return pretrain + [(NUM_OFFLINE + ROLLOUTS * (i + 1)) // BATCH for i in range(finetune_epochs)]


def grad_steps_at_rollout(finetune_epochs: int = FINETUNE_EPOCHS) -> list[int]:
    """Cumulative gradient steps taken before each finetuning epoch's rollout (20, 26, ..., 320)."""
    cumulative = np.cumsum(grad_steps_per_epoch(finetune_epochs))
    return [int(cumulative[PRETRAIN_EPOCHS - 1 + e]) for e in range(finetune_epochs)]


# ----------------------------------------------------------------------------- networks
def init_mlp(key: jax.Array, fan_in: int, torch_init: bool, outputs: int = 1) -> Params:
    """128-128 MLP; torch.nn.Linear's init (the original's) or Flax Dense's default (lecun normal, zero bias)."""
    sizes = [fan_in, HIDDEN, HIDDEN, outputs]
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        wkey, bkey = jax.random.split(jax.random.fold_in(key, i))
        if torch_init:  # weights and biases U(+-1/sqrt(fan_in))
            bound = 1.0 / np.sqrt(n_in)
            w = jax.random.uniform(wkey, (n_in, n_out), minval=-bound, maxval=bound)
            b = jax.random.uniform(bkey, (n_out,), minval=-bound, maxval=bound)
        else:
            w = jax.nn.initializers.lecun_normal()(wkey, (n_in, n_out))
            b = jnp.zeros(n_out)
        params.append((w, b))
    return params


def mlp(params: Params, x: jax.Array) -> jax.Array:
    """[..., fan_in] -> [..., outputs], ReLU hidden layers, linear output."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


# ----------------------------------------------------------------------------- the method table
@dataclass(frozen=True)
class Method:
    critic_input: str  # "none" (no critic), "action": Q(a), "rtg_action": Q(RTG, a)
    actor_input: str  # "rtg": pi(RTG), "const": pi(1)
    actor_loss: Callable  # (method, actor_params, critic_params, batch, key) -> scalar
    num_critics: int = 1
    actor_interval: int = 1  # actor step on batches 0, k, 2k, ... of an epoch
    gaussian_actor: bool = False  # 2 outputs (mean, log-std) instead of 1
    critic_loss: Callable = field(default=None)  # (method, critic_params, batch) -> scalar


def policy_head(method: Method, actor_params: Params, rtg: jax.Array) -> jax.Array:
    """Raw actor outputs [..., 1 or 2] for the method's actor input."""
    inputs = rtg if method.actor_input == "rtg" else jnp.full_like(rtg, CONST_INPUT)
    return mlp(actor_params, inputs[..., None])


def policy_mean(method: Method, actor_params: Params, rtg: jax.Array) -> jax.Array:
    """The deterministic action: tanh of the (mean) output."""
    return jnp.tanh(policy_head(method, actor_params, rtg)[..., 0])


def q_values(method: Method, critic_params: dict, rtg: jax.Array, action: jax.Array) -> jax.Array:
    """[num_critics, ...] Q values of the method's critics."""
    x = action[..., None] if method.critic_input == "action" else jnp.stack([rtg, action], axis=-1)
    return jnp.stack([mlp(q, x)[..., 0] for q in critic_params["q"]])


def q_min(method: Method, critic_params: dict, rtg: jax.Array, action: jax.Array) -> jax.Array:
    return jnp.min(q_values(method, critic_params, rtg, action), axis=0)


def state_value(critic_params: dict, rtg: jax.Array) -> jax.Array:
    return mlp(critic_params["v"], rtg[..., None])[..., 0]


def regression_critic_loss(method: Method, critic_params: dict, batch: Batch) -> jax.Array:
    """Each critic regressed to r with MSE (one-step episodes: the TD target is r); summed."""
    q = q_values(method, critic_params, batch.rtg, batch.action)
    return jnp.sum(jnp.mean((q - batch.reward) ** 2, axis=-1))


def iql_critic_loss(method: Method, critic_params: dict, batch: Batch) -> jax.Array:
    """Regression critics plus V(RTG) by expectile regression towards min Q(RTG, a_data)."""
    diff = jax.lax.stop_gradient(q_min(method, critic_params, batch.rtg, batch.action))
    diff = diff - state_value(critic_params, batch.rtg)
    return regression_critic_loss(method, critic_params, batch) + losses.expectile_loss(diff, IQL_EXPECTILE)


def supervised_loss(method: Method, actor_params: Params, critic_params: dict, batch: Batch,
                    key: jax.Array) -> jax.Array:
    """ODT: MSE between pi(r) and the data action."""
    return jnp.mean((policy_mean(method, actor_params, batch.rtg) - batch.action) ** 2)


def q_gradient_loss(sup_weight: float, method: Method, actor_params: Params, critic_params: dict,
                    batch: Batch, key: jax.Array) -> jax.Array:
    """sup_weight MSE(pi(r), a) - mean min_i Q_i(r, pi(r)) (DDPG: sup_weight 0, input 1, Q(a))."""
    pred = policy_mean(method, actor_params, batch.rtg)
    sup = jnp.mean((pred - batch.action) ** 2)
    return sup_weight * sup - jnp.mean(q_min(method, critic_params, batch.rtg, pred))


def sac_loss(method: Method, actor_params: Params, critic_params: dict, batch: Batch,
             key: jax.Array) -> jax.Array:
    """0.02 NLL(data a) - mean(T entropy + min Q(r, tanh x)), x a reparameterised sample."""
    out = policy_head(method, actor_params, batch.rtg)
    mu, log_std = out[..., :1], -5.0 + 3.5 * (jnp.tanh(out[..., 1:]) + 1.0)  # [..., 1]; log-std in [-5, 2]
    data_action = jnp.clip(batch.action, -ACTION_LIMIT, ACTION_LIMIT)[..., None]
    nll = -jnp.mean(distributions.log_likelihood(data_action, mu, log_std))
    action, log_prob = distributions.sample(key, mu, log_std)  # the project's tanh-Gaussian, one action dim
    entropy = -log_prob
    q = q_min(method, critic_params, batch.rtg, action[..., 0])
    return SUP_WEIGHT * nll - jnp.mean(SAC_TEMPERATURE * entropy + q)


def iql_actor_loss(method: Method, actor_params: Params, critic_params: dict, batch: Batch,
                   key: jax.Array) -> jax.Array:
    """0.02 MSE + advantage-weighted squared error (-w log pi with log pi = -(a_hat - a)^2)."""
    sq_err = (policy_mean(method, actor_params, batch.rtg) - batch.action) ** 2
    advantage = q_min(method, critic_params, batch.rtg, batch.action) - state_value(critic_params, batch.rtg)
    weight = losses.iql_weights(advantage, IQL_BETA, IQL_CLIP)
    return SUP_WEIGHT * jnp.mean(sq_err) + jnp.mean(weight * sq_err)


METHODS: dict[str, Method] = {
    "odt": Method("none", "rtg", supervised_loss, num_critics=0),
    "ddpg": Method("action", "const", partial(q_gradient_loss, 0.0)),
    "odt_ddpg": Method("rtg_action", "rtg", partial(q_gradient_loss, SUP_WEIGHT)),
    "odt_td3": Method("rtg_action", "rtg", partial(q_gradient_loss, SUP_WEIGHT), num_critics=2, actor_interval=2),
    "odt_sac": Method("rtg_action", "rtg", sac_loss, num_critics=2, gaussian_actor=True),
    "odt_iql": Method("rtg_action", "rtg", iql_actor_loss, num_critics=2, critic_loss=iql_critic_loss),
}
PAPER_METHODS = ("odt", "ddpg", "odt_ddpg", "odt_td3")


# ----------------------------------------------------------------------------- training
class TrainState(NamedTuple):
    actor: Params
    critics: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState


OPTIMIZER = optax.adam(LR)


def init_state(method: Method, key: jax.Array, torch_init: bool) -> TrainState:
    """Actor from fold_in(key, 0) (shared by all methods of a seed), critic i from fold_in(key, 1 + i)."""
    actor = init_mlp(jax.random.fold_in(key, 0), 1, torch_init, outputs=2 if method.gaussian_actor else 1)
    critic_fan_in = 1 if method.critic_input == "action" else 2
    critics = {"q": [init_mlp(jax.random.fold_in(key, 1 + i), critic_fan_in, torch_init)
                     for i in range(method.num_critics)]}
    if method.critic_loss is iql_critic_loss:
        critics["v"] = init_mlp(jax.random.fold_in(key, 99), 1, torch_init)
    return TrainState(actor, critics, OPTIMIZER.init(actor), OPTIMIZER.init(critics))


def reset_optimizers(state: TrainState) -> TrainState:
    """Fresh Adam moments, as the original re-creates its optimisers after pretraining."""
    return state._replace(actor_opt=OPTIMIZER.init(state.actor), critic_opt=OPTIMIZER.init(state.critics))


def train_step(method: Method, state: TrainState, batch: Batch, index: jax.Array, key: jax.Array) -> TrainState:
    """One critic step, then (on batches 0, k, 2k, ...) one actor step against the updated critics."""
    critics, critic_opt = state.critics, state.critic_opt
    if method.num_critics:
        critic_loss = method.critic_loss or regression_critic_loss
        grads = jax.grad(partial(critic_loss, method))(critics, batch)
        updates, critic_opt = OPTIMIZER.update(grads, critic_opt, critics)
        critics = optax.apply_updates(critics, updates)

    def actor_step(args: tuple) -> tuple:
        actor, actor_opt = args
        grads = jax.grad(partial(method.actor_loss, method))(actor, jax.lax.stop_gradient(critics), batch, key)
        updates, actor_opt = OPTIMIZER.update(grads, actor_opt, actor)
        return optax.apply_updates(actor, updates), actor_opt

    actor_args = (state.actor, state.actor_opt)
    if method.actor_interval == 1:
        actor, actor_opt = actor_step(actor_args)
    else:
        actor, actor_opt = jax.lax.cond(index % method.actor_interval == 0, actor_step, lambda x: x, actor_args)
    return TrainState(actor, critics, actor_opt, critic_opt)


def train_epoch(method: Method, state: TrainState, actions: jax.Array, rewards: jax.Array, size: jax.Array,
                key: jax.Array) -> TrainState:
    """One pass over a random permutation of the first `size` samples: size // 32 steps (rest dropped)."""
    perm_key, step_key = jax.random.split(key)
    capacity = actions.shape[0]
    scores = jnp.where(jnp.arange(capacity) < size, jax.random.uniform(perm_key, (capacity,)), 2.0)
    order = jnp.argsort(scores)  # a uniform permutation of the valid slots first

    def body(i: jax.Array, state: TrainState) -> TrainState:
        idx = jax.lax.dynamic_slice(order, (i * BATCH,), (BATCH,))
        batch = Batch(rtg=rewards[idx], action=actions[idx], reward=rewards[idx])
        return train_step(method, state, batch, i, jax.random.fold_in(step_key, i))

    return jax.lax.fori_loop(0, size // BATCH, body, state)


def rollout(method: Method, actor: Params, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """64 actions pi(1) + 0.02 (U(0,1) - 0.5) and their rewards (the env clips, the data keeps a)."""
    mean = policy_mean(method, actor, jnp.full((ROLLOUTS,), CONST_INPUT))
    actions = mean + NOISE_WIDTH * (jax.random.uniform(key, (ROLLOUTS,)) - 0.5)
    return actions, reward(actions)


def run_seed(method: Method, torch_init: bool, finetune_epochs: int, key: jax.Array,
             offline_actions: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The whole protocol for one seed: (mean reward per finetuning epoch [E], last epoch's actions [64])."""
    capacity = NUM_OFFLINE + ROLLOUTS * finetune_epochs
    init_key, pre_key, fine_key = jax.random.split(key, 3)
    state = init_state(method, init_key, torch_init)
    actions = jnp.zeros(capacity).at[:NUM_OFFLINE].set(offline_actions)
    rewards = jnp.zeros(capacity).at[:NUM_OFFLINE].set(reward(offline_actions))

    def pretrain_epoch(state: TrainState, key: jax.Array) -> tuple[TrainState, None]:
        return train_epoch(method, state, actions, rewards, jnp.asarray(NUM_OFFLINE), key), None

    state, _ = jax.lax.scan(pretrain_epoch, state, jax.random.split(pre_key, PRETRAIN_EPOCHS))
    state = reset_optimizers(state)

    def finetune_epoch(carry: tuple, xs: tuple) -> tuple:
        state, actions, rewards = carry
        epoch, key = xs
        roll_key, train_key = jax.random.split(key)
        new_actions, new_rewards = rollout(method, state.actor, roll_key)
        size = NUM_OFFLINE + ROLLOUTS * epoch
        actions = jax.lax.dynamic_update_slice(actions, new_actions, (size,))
        rewards = jax.lax.dynamic_update_slice(rewards, new_rewards, (size,))
        state = train_epoch(method, state, actions, rewards, size + ROLLOUTS, train_key)
        return (state, actions, rewards), (jnp.mean(new_rewards), new_actions)

    xs = (jnp.arange(finetune_epochs), jax.random.split(fine_key, finetune_epochs))
    _, (epoch_rewards, epoch_actions) = jax.lax.scan(finetune_epoch, (state, actions, rewards), xs)
    return epoch_rewards, epoch_actions[-1]


def run_method(name: str, seeds: list[int], torch_init: bool,
               finetune_epochs: int = FINETUNE_EPOCHS) -> tuple[np.ndarray, np.ndarray]:
    """All seeds of one method, vmapped and jitted: ([seeds, E] epoch rewards, [seeds, 64] final actions)."""
    offline = jnp.asarray(np.stack([offline_dataset(s)[0] for s in seeds]))
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    run = jax.jit(jax.vmap(partial(run_seed, METHODS[name], torch_init, finetune_epochs)))
    epoch_rewards, final_actions = run(keys, offline)
    return np.asarray(epoch_rewards), np.asarray(final_actions)


def run_all(seeds: list[int], torch_init: bool, methods: tuple[str, ...],
            finetune_epochs: int = FINETUNE_EPOCHS) -> dict:
    if not jax.config.jax_enable_x64:
        raise RuntimeError("the toy runs in float64: call jax.config.update('jax_enable_x64', True) first")
    return {name: run_method(name, seeds, torch_init, finetune_epochs) for name in methods}


# ----------------------------------------------------------------------------- reporting
def summarize(results: dict, seeds: list[int], torch_init: bool, finetune_epochs: int, wall_time_s: float) -> dict:
    """results.json: per-method summary keys, plus config, step counts and per-seed details."""
    out: dict = {}
    for name, (epoch_rewards, _) in results.items():
        final = epoch_rewards[:, -1]
        out[name] = {"final_per_seed": final.tolist(), "final_mean": float(final.mean()),
                     "final_median": float(np.median(final)),
                     "reward_per_epoch_mean": epoch_rewards.mean(axis=0).tolist()}
    out["grad_steps_per_epoch"] = grad_steps_per_epoch(finetune_epochs)
    out["grad_steps_at_rollout"] = grad_steps_at_rollout(finetune_epochs)
    out["config"] = {"seeds": seeds, "torch_init": torch_init, "pretrain_epochs": PRETRAIN_EPOCHS,
                     "finetune_epochs": finetune_epochs, "rollouts_per_epoch": ROLLOUTS, "batch": BATCH,
                     "lr": LR, "hidden": HIDDEN, "noise_width": NOISE_WIDTH, "sup_weight": SUP_WEIGHT,
                     "const_input": CONST_INPUT, "wall_time_s": wall_time_s}
    out["per_seed"] = {name: {"reward_per_epoch": rewards.tolist(), "final_actions": actions.tolist()}
                       for name, (rewards, actions) in results.items()}
    return out


def plot(results: dict, path: str) -> None:
    """Left: mean reward vs gradient steps (min-max shaded); right: final rollout actions and r(a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = list(results)
    x = grad_steps_at_rollout(results[names[0]][0].shape[1])
    for i, name in enumerate(names):
        epoch_rewards, final_actions = results[name]
        color = f"C{i}"
        left.plot(x, epoch_rewards.mean(axis=0), color=color, marker="o", ms=3, label=name)
        left.fill_between(x, epoch_rewards.min(axis=0), epoch_rewards.max(axis=0), color=color, alpha=0.12)
        num_seeds = final_actions.shape[0]
        rows = i + 0.6 * (np.arange(num_seeds)[:, None] / max(num_seeds - 1, 1) - 0.5)
        right.scatter(final_actions.ravel(), np.broadcast_to(rows, final_actions.shape).ravel(), s=4,
                      color=color, alpha=0.5)
    left.set(xlabel="gradient steps", ylabel="mean reward of the epoch's 64 rollouts",
             title=f"single-state MDP: mean over {len(next(iter(results.values()))[0])} seeds, min-max shaded")
    left.axhline(1.0, color="gray", lw=0.5, ls=":")
    left.legend(fontsize=8)
    right.set(xlabel="action of the last epoch's rollouts (one row per seed)", xlim=(-1.05, 1.05),
              yticks=range(len(names)), yticklabels=names, title="final rollout actions")
    twin = right.twinx()
    grid = np.linspace(-1, 1, 401)
    twin.plot(grid, reward(grid), color="green", ls="--", lw=1, label="r(a)")
    twin.set_ylabel("r(a)", color="green")
    twin.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(summary: dict, methods: tuple[str, ...]) -> None:
    print(f"final reward over {len(summary['config']['seeds'])} seeds (torch_init={summary['config']['torch_init']})")
    print(f"{'method':<10} {'median':>8} {'mean':>8} {'best':>8} {'worst':>8}")
    for name in methods:
        final = np.array(summary[name]["final_per_seed"])
        print(f"{name:<10} {np.median(final):8.3f} {final.mean():8.3f} {final.max():8.3f} {final.min():8.3f}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (first-seed .. first-seed + N - 1)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--init", choices=INITS, default="torch",
                        help="network initialisation: torch (PyTorch-style uniform fan-in, the original's; default) "
                             "or flax (Flax Dense default)")
    parser.add_argument("--epochs", type=int, default=FINETUNE_EPOCHS, help="finetuning epochs (original: 16)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    methods = tuple(args.methods.split(","))
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    start = time.time()
    torch_init = args.init == "torch"
    results = run_all(seeds, torch_init, methods, args.epochs)
    wall = time.time() - start
    summary = summarize(results, seeds, torch_init, args.epochs, wall)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    plot(results, os.path.join(args.out, "toy_mdp.png"))
    print_table(summary, methods)
    print(f"wall time (compile + run, {len(methods)} methods x {len(seeds)} seeds): {wall:.1f} s; "
          f"wrote {args.out}/results.json and toy_mdp.png")


if __name__ == "__main__":
    main()
