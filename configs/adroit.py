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
    c = base.get_sparse_family_config(preset, context_len=5, eval_context_length=eval_context, rtg=rtg,
                                      pretrain_updates=40_000, replay_size=5000)
    c.iql.expectile = 0.9  # the original's comment for Adroit (used by --config.algo=iql_odt only)
    c.iql.beta = 10.0
    return c
