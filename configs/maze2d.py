"""Maze2D presets (open, umaze, medium, large) on gymnasium-robotics PointMaze.

README commands: maze2d-open pretrains 10K updates with a 10K-trajectory buffer; K 5 for
large, 1 otherwise. The original divides maze2d-open's *environment* rewards by 100 but
not its dataset rewards (a name-matching slip, DESIGN.md quirk 11); we divide neither.
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
    c = base.get_config()
    c.env_name = preset
    c.model.context_len = k
    c.model.eval_context_length = 1
    c.actor.learning_rate = 1e-4
    c.actor.weight_decay = 1e-4
    c.critic.learning_rate = 2e-4
    c.rl.gamma = 0.99
    c.rl.actor_update_interval = 1
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = pretrain_updates
    c.train.replay_size = replay
    c.online.eval_rtg = rtg
    c.online.online_rtg = rtg
    c.online.minimum_sapairs_per_iter = 1000
    c.online.max_online_transitions = 1_000_000
    return c
