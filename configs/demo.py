"""CPU-sized schedule (`make demo`, the CPU random-data study): a faithful MuJoCo preset, smaller and shorter.

Presets: halfcheetah-random (default) and hopper-random. Everything per dataset (RTGs 6000/12000
resp. 3600/7200, reward scale, alpha 0.1, gamma, learning rates, weight decay, replay size, >= 1000
transitions per online iteration) comes from `configs/mujoco.py`. What differs from the paper's
settings (docs/reference.md#table-9-per-environment-hyper-parameters), and why:

- model d 64, 2 layers, 4 heads, K 5 (paper d 512, 4 layers, K 20): a TD3+ODT update costs about
  43 ms on two CPU cores instead of about 14 s, so the online phase can run thousands of updates;
- batch 64 (paper 256): the same reason;
- 1000 pretraining updates (paper 5000) and actor warm-up 1000 steps (paper 10000): the whole run
  has about 12K actor updates, so the paper's warm-up would keep the learning rate near zero;
- 40K online transitions (paper 500K), 300 updates per 1000 transitions (the paper's ratio),
  5 evaluation episodes every 5 iterations (paper 10 every 10);
- 100K generated random-policy transitions (D4RL 1M): generation takes about a minute, and 100K
  random transitions already hold the data's whole (low) return range.
"""

from configs import mujoco

PRESETS = ("halfcheetah-random", "hopper-random")


def get_config(preset: str = "halfcheetah-random"):
    if preset not in PRESETS:
        raise ValueError(f"unknown demo preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    c = mujoco.get_config(preset)
    c.dataset.generate_if_missing = True
    c.dataset.generate_num_steps = 100_000
    c.model.embed_dim = 64
    c.model.n_layer = 2
    c.model.n_head = 4
    c.model.context_len = 5
    c.model.eval_context_length = 5
    c.actor.warmup_steps = 1000
    c.train.batch_size = 64
    c.train.num_updates_per_pretrain_iter = 1000
    c.train.num_updates_per_online_iter = 300
    c.online.num_eval_episodes = 5
    c.online.eval_interval = 5
    c.online.max_online_transitions = 40_000
    c.checkpoint.every_iters = 10
    return c
