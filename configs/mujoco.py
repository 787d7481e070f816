"""MuJoCo presets (hopper, halfcheetah, walker2d, ant x random, medium, medium-replay).

Values follow the authors' README commands (what was run), which for Ant differ from the
paper's Table 9: RTG 5000/10000 (Table 9: 6000/12000), actor lr 1e-4 (Table 9: 1e-3),
eval context 5 (Table 9: 1). The online budget is 500K transitions (the original stops at
600K). Random datasets collect >= 1000 transitions per iteration (Table 8).
Usage: --config=configs/mujoco.py:hopper-medium
"""

from configs import base

ENVS = {
    #               eval_rtg, online_rtg, actor lr, weight decay, pretrain updates
    "hopper": (3600.0, 7200.0, 1e-4, 5e-4, 5000),
    "halfcheetah": (6000.0, 12000.0, 1e-4, 1e-4, 5000),
    "walker2d": (5000.0, 10000.0, 1e-3, 1e-3, 10000),
    "ant": (5000.0, 10000.0, 1e-4, 1e-4, 5000),
}
DATASETS = ("random", "medium", "medium-replay")
PRESETS = tuple(f"{env}-{kind}" for env in ENVS for kind in DATASETS)


def get_config(preset: str = "hopper-medium"):
    if preset not in PRESETS:
        raise ValueError(f"unknown MuJoCo preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    env, kind = preset.split("-", 1)
    eval_rtg, online_rtg, lr, wd, pretrain_updates = ENVS[env]
    c = base.get_config()
    c.env_name = preset
    c.model.context_len = 20
    c.model.eval_context_length = 5
    c.actor.learning_rate = lr
    c.actor.weight_decay = wd
    c.critic.learning_rate = 1e-3
    c.rl.gamma = 0.99
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = pretrain_updates
    c.train.replay_size = 1000
    c.online.eval_rtg = eval_rtg
    c.online.online_rtg = online_rtg
    c.online.minimum_sapairs_per_iter = 1000 if kind == "random" else 0
    c.online.max_online_transitions = 500_000
    return c
