"""AntMaze presets (umaze, umaze-diverse, medium-play/diverse, large-play/diverse).

README commands: 40 x 5000 = 200K pretraining updates for every maze (Table 9 lists 40K
for umaze), K 1 for umaze and medium, 5 for large; the RL term is on from the start of
pretraining (alpha 0.1); gamma 0.998; rewards shifted by -1 (registry); 1M online
transitions.
Usage: --config=configs/antmaze.py:antmaze-umaze
"""

from configs import base

MAZES = {
    #                 rtg (eval = online), K
    "umaze": (-100.0, 1),
    "umaze-diverse": (-100.0, 1),
    "medium-play": (-200.0, 1),
    "medium-diverse": (-200.0, 1),
    "large-play": (-500.0, 5),
    "large-diverse": (-500.0, 5),
}
PRESETS = tuple(f"antmaze-{maze}" for maze in MAZES)


def get_config(preset: str = "antmaze-umaze"):
    if preset not in PRESETS:
        raise ValueError(f"unknown AntMaze preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    rtg, k = MAZES[preset[len("antmaze-"):]]
    c = base.get_sparse_family_config(preset, context_len=k, eval_context_length=1, rtg=rtg,
                                      pretrain_updates=5000, replay_size=2000)
    c.train.max_pretrain_iters = 40  # 40 x 5000 = 200K pretraining updates (README)
    c.rl.gamma = 0.998
    c.rl.rl_from_start = True
    return c
