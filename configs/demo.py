"""The embedded default (`make demo`): TD3+ODT on a locally generated halfcheetah random set.

Small model (d 128, 3 layers, K 5) and a budget that finishes in about 10 minutes on two
CPU cores. The dataset (vitamin/halfcheetah/random-v0, 100K random-policy transitions) is
generated on first use into the local Minari directory.
"""

from configs import base


def get_config(preset: str = ""):
    if preset:
        raise ValueError(f"configs/demo.py takes no preset (got {preset!r}); it is the halfcheetah-random demo")
    c = base.get_config()
    c.env_name = "halfcheetah-random"
    c.dataset.generate_if_missing = True
    c.dataset.generate_num_steps = 100_000
    c.model.embed_dim = 128
    c.model.n_layer = 3
    c.model.n_head = 4
    c.model.context_len = 5
    c.model.eval_context_length = 5
    c.actor.learning_rate = 1e-4
    c.actor.weight_decay = 1e-4
    c.actor.warmup_steps = 1000
    c.train.batch_size = 64
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = 300
    c.train.num_updates_per_online_iter = 150
    c.online.eval_rtg = 6000.0
    c.online.online_rtg = 12000.0
    c.online.minimum_sapairs_per_iter = 1000
    c.online.num_eval_episodes = 5
    c.online.eval_interval = 5
    c.online.max_online_transitions = 40_000
    c.checkpoint.every_iters = 10
    return c
