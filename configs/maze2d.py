"""Maze2D presets (open, umaze, medium, large) on gymnasium-robotics PointMaze.

README commands: maze2d-open pretrains 10K updates with a 10K-trajectory buffer; K 5 for
large, 1 otherwise. The original divides maze2d-open's *environment* rewards by 100 but
not its dataset rewards (a name-matching slip, docs/faithfulness.md#maze2d-open-reward-division); we divide neither.
Usage: --config=configs/maze2d.py:maze2d-umaze
"""

from configs import base

MAZES = {
    #          rtg (eval = online), K, pretrain updates, buffer (trajectories)
    "open": (120.0, 1, 10_000, 10_000),
    "umaze": (60.0, 1, 40_000, 2500),
    "medium": (60.0, 1, 40_000, 5000),
    "large": (60.0, 5, 40_000, 5000),
}
PRESETS = tuple(f"maze2d-{maze}" for maze in MAZES)


def get_config(preset: str = "maze2d-umaze"):
    if preset not in PRESETS:
        raise ValueError(f"unknown Maze2D preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    rtg, k, pretrain_updates, replay = MAZES[preset[len("maze2d-"):]]
    return base.get_sparse_family_config(preset, context_len=k, eval_context_length=1, rtg=rtg,
                                         pretrain_updates=pretrain_updates, replay_size=replay)
