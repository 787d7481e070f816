"""The single-state toy MDP of the paper's Fig. 2, run through the full Decision Transformer.

One-step episodes (reward (a+1)^2 for a <= 0, 1 - 2a otherwise), the 128-action offline
set of the paper, 64 rollouts per online iteration, target RTG 1 (the optimum). A small
model and budget: a few minutes on a CPU. `experiments/toy_mdp.py` is the paper's MLP
version of the same experiment.
Usage: --config=configs/toy.py
"""

from configs import base

PRESETS = ("toy",)


def get_config(preset: str = "toy"):
    if preset != "toy":
        raise ValueError(f"unknown toy preset {preset!r}; the only preset is 'toy'")
    c = base.get_config()
    c.env_name = "toy"
    c.model.embed_dim = 64
    c.model.n_layer = 2
    c.model.n_head = 2
    c.model.context_len = 1
    c.model.eval_context_length = 1
    c.actor.learning_rate = 1e-3
    c.actor.warmup_steps = 100
    c.critic.learning_rate = 1e-3
    c.rl.actor_update_interval = 1
    c.train.batch_size = 32
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = 20
    c.train.num_updates_per_online_iter = 20
    c.train.replay_size = 10_000
    c.train.updates_per_dispatch = 20
    c.online.eval_rtg = 1.0
    c.online.online_rtg = 1.0
    c.online.reward_scale = 1.0
    c.online.num_online_envs = 64
    c.online.num_eval_episodes = 64
    c.online.eval_interval = 1
    c.online.max_online_transitions = 64 * 16
    return c
