"""Adroit presets (pen, hammer, door, relocate x human, cloned, expert).

Values follow the authors' README commands: RTGs are Table 9's divided by 100 (they are in
the units of the rewards after the per-family division: pen 12000 -> 120); pen uses eval
context 5 and hammer 1 (Table 9 has them the other way round); door keeps reward_scale
0.001 (registry), as the original. Actor update interval 1, 1M online transitions.
Usage: --config=configs/adroit.py:pen-human
"""

from configs import base

ENVS = {
    #         rtg (eval = online), eval context length
    "pen": (120.0, 5),
    "hammer": (160.0, 1),
    "door": (40.0, 1),
    "relocate": (50.0, 1),
}
DATASETS = ("human", "cloned", "expert")
PRESETS = tuple(f"{env}-{kind}" for env in ENVS for kind in DATASETS)


def get_config(preset: str = "pen-human"):
    if preset not in PRESETS:
        raise ValueError(f"unknown Adroit preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    env = preset.split("-", 1)[0]
    rtg, eval_context = ENVS[env]
    c = base.get_config()
    c.env_name = preset
    c.model.context_len = 5
    c.model.eval_context_length = eval_context
    c.actor.learning_rate = 1e-4
    c.actor.weight_decay = 1e-4
    c.critic.learning_rate = 2e-4
    c.rl.gamma = 0.99
    c.rl.actor_update_interval = 1
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = 40_000
    c.train.replay_size = 5000
    c.online.eval_rtg = rtg
    c.online.online_rtg = rtg
    c.online.minimum_sapairs_per_iter = 1000
    c.online.max_online_transitions = 1_000_000
    return c
