"""One table from every dataset name of the paper to its environment and constants.

Reward constants, RTG scales and time limits follow the original code (ORIGINAL.md sections
1.1, 7, 11); reference scores are D4RL's (REFERENCE.md). Maze maps reproduce D4RL's
fixed-start, fixed-goal evaluation mazes with gymnasium-robotics cells (r = reset, g =
goal); when a real Minari dataset is present, its recorded environment spec is the
authority on the exact map.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from typing import Mapping, Optional

R, G = "r", "g"

# D4RL antmaze evaluation mazes (U_MAZE_TEST, BIG_MAZE_TEST, HARDEST_MAZE_TEST).
ANT_UMAZE = [[1, 1, 1, 1, 1], [1, R, 0, 0, 1], [1, 1, 1, 0, 1], [1, G, 0, 0, 1], [1, 1, 1, 1, 1]]
ANT_MEDIUM = [
    [1, 1, 1, 1, 1, 1, 1, 1], [1, R, 0, 1, 1, 0, 0, 1], [1, 0, 0, 1, 0, 0, 0, 1], [1, 1, 0, 0, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1], [1, 0, 1, 0, 0, 1, 0, 1], [1, 0, 0, 0, 1, 0, G, 1], [1, 1, 1, 1, 1, 1, 1, 1],
]
ANT_LARGE = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, R, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1], [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1], [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1], [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, G, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
]
# D4RL maze2d mazes with a fixed goal (the agent's start is random among free cells).
POINT_OPEN = [[1, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, G, 1],
              [1, 1, 1, 1, 1, 1, 1]]
POINT_UMAZE = [[1, 1, 1, 1, 1], [1, G, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]]
POINT_MEDIUM = [row[:] for row in ANT_MEDIUM]
POINT_MEDIUM[1][1] = 0
POINT_LARGE = [row[:] for row in ANT_LARGE]
POINT_LARGE[1][1] = 0


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    family: str  # 'mujoco' | 'adroit' | 'antmaze' | 'maze2d' | 'toy'
    env_id: str
    env_kwargs: Mapping
    max_episode_steps: int
    reward_divisor: float  # dataset AND environment rewards are divided by this
    reward_shift: float  # added after division (AntMaze -1)
    reward_scale: float  # RTG scale
    ref_min: float
    ref_max: float
    minari_id: Optional[str]
    critic_layer_norm: bool
    is_goal_conditioned: bool


def _frozen(**kwargs) -> Mapping:
    return types.MappingProxyType(dict(kwargs))


_MUJOCO = {  # env: (gymnasium id, D4RL ref min, ref max)
    "hopper": ("Hopper-v5", -20.272305, 3234.3),
    "halfcheetah": ("HalfCheetah-v5", -280.178953, 12135.0),
    "walker2d": ("Walker2d-v5", 1.629008, 4592.3),
    "ant": ("Ant-v5", -325.6, 3879.7),
}
_ADROIT = {  # task: (gymnasium id, time limit, reward divisor, RTG scale, ref min, ref max)
    "pen": ("AdroitHandPen-v1", 100, 100.0, 1.0, 96.262799, 3076.8331017826877),
    "hammer": ("AdroitHandHammer-v1", 200, 1000.0, 1.0, -274.856578, 12794.134825156867),
    "door": ("AdroitHandDoor-v1", 200, 100.0, 0.001, -56.512833, 2880.5693087298737),  # the original's 0.001
    "relocate": ("AdroitHandRelocate-v1", 200, 100.0, 1.0, -6.425911, 4233.877797728884),
}
_ANTMAZE = {  # maze: (map, time limit)
    "umaze": (ANT_UMAZE, 700), "umaze-diverse": (ANT_UMAZE, 700),
    "medium-play": (ANT_MEDIUM, 1000), "medium-diverse": (ANT_MEDIUM, 1000),
    "large-play": (ANT_LARGE, 1000), "large-diverse": (ANT_LARGE, 1000),
}
_MAZE2D = {  # maze: (gymnasium id, map, time limit, ref min, ref max)
    "open": ("PointMaze_Open-v3", POINT_OPEN, 150, 0.01, 20.66),
    "umaze": ("PointMaze_UMaze-v3", POINT_UMAZE, 300, 23.85, 161.86),
    "medium": ("PointMaze_Medium-v3", POINT_MEDIUM, 600, 13.13, 277.39),
    "large": ("PointMaze_Large-v3", POINT_LARGE, 800, 6.7, 273.99),
}


def _build_registry() -> dict[str, DatasetSpec]:
    specs = {}
    for env, (env_id, ref_min, ref_max) in _MUJOCO.items():
        for kind in ("random", "medium", "medium-replay", "expert"):
            minari_id = f"mujoco/{env}/{kind}-v0" if kind in ("medium", "expert") else None
            specs[f"{env}-{kind}"] = DatasetSpec(
                f"{env}-{kind}", "mujoco", env_id, _frozen(), 1000, 1.0, 0.0, 0.001, ref_min, ref_max, minari_id,
                critic_layer_norm=False, is_goal_conditioned=False)
    for task, (env_id, limit, divisor, scale, ref_min, ref_max) in _ADROIT.items():
        for kind in ("human", "cloned", "expert"):
            specs[f"{task}-{kind}"] = DatasetSpec(
                f"{task}-{kind}", "adroit", env_id, _frozen(), limit, divisor, 0.0, scale, ref_min, ref_max,
                f"D4RL/{task}/{kind}-v2", critic_layer_norm=True, is_goal_conditioned=False)
    for maze, (maze_map, limit) in _ANTMAZE.items():
        size = maze.split("-")[0]
        # v4: 27-dim ant observation, as D4RL and Minari's D4RL/antmaze sets (v5 adds contact forces).
        env_id = {"umaze": "AntMaze_UMaze-v4", "medium": "AntMaze_Medium-v4", "large": "AntMaze_Large-v4"}[size]
        specs[f"antmaze-{maze}"] = DatasetSpec(
            f"antmaze-{maze}", "antmaze", env_id,
            _frozen(maze_map=maze_map, continuing_task=False, reset_target=False, reward_type="sparse"),
            limit, 1.0, -1.0, 0.001, 0.0, 1.0, f"D4RL/antmaze/{maze}-v1", critic_layer_norm=True,
            is_goal_conditioned=True)
    for maze, (env_id, maze_map, limit, ref_min, ref_max) in _MAZE2D.items():
        specs[f"maze2d-{maze}"] = DatasetSpec(
            f"maze2d-{maze}", "maze2d", env_id,
            _frozen(maze_map=maze_map, continuing_task=True, reset_target=False, reward_type="sparse"),
            limit, 1.0, 0.0, 1.0, ref_min, ref_max, f"D4RL/pointmaze/{maze}-v2", critic_layer_norm=True,
            is_goal_conditioned=True)
    specs["toy"] = DatasetSpec("toy", "toy", "vitamin/SingleStateToy-v0", _frozen(), 1, 1.0, 0.0, 1.0, 0.0, 1.0,
                               None, critic_layer_norm=False, is_goal_conditioned=False)
    return specs


REGISTRY = _build_registry()


class UnknownDatasetError(ValueError):
    """The dataset name is not in the registry; the message suggests close names."""


def dataset_names() -> list[str]:
    return sorted(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """Spec of a dataset name; a trailing D4RL version ('hopper-medium-v2') is accepted."""
    key = re.sub(r"-v\d+$", "", name)
    if key in REGISTRY:
        return REGISTRY[key]
    close = difflib.get_close_matches(key, REGISTRY, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}{hint} (all names: vitamin_jax.envs.dataset_names())")
