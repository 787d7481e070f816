"""One table from every dataset name of the paper to its environment and constants.

Reward constants, RTG scales and time limits follow the original code
(docs/design.md#per-family-constants); reference scores are D4RL's
(docs/reference.md#d4rl-reference-scores). Deliberate difference: maze2d-open divides neither
dataset nor environment rewards (the original divides only the env's by 100, a name-matching
slip; docs/faithfulness.md#maze2d-open-reward-division).

Maze maps use gymnasium-robotics cells (R reset, G goal). gymnasium-robotics lays map rows
out differently from D4RL (row 0 at +y; D4RL's antmaze puts it at y = 0, its maze2d along x),
so coordinates differ from D4RL's. Minari's D4RL datasets were collected in
gymnasium-robotics, so the maps below follow Minari's data:
- AntMaze medium/large: the evaluation maps of Minari's generation scripts (D4RL's
  BIG_MAZE_TEST / HARDEST_MAZE_TEST cells: start top-left, goal (6, 6) resp. (7, 9)).
- AntMaze umaze: start bottom-left, goal top-left, the map Minari's `umaze` data was
  collected on. (Minari's recorded umaze eval map mirrors the maze in x, so its walls differ
  from the data's; we do not use it.)
- PointMaze: Minari's evaluation maps (D4RL's fixed goals: open centre, umaze (1, 1), medium
  (6, 6), large (7, 9)); no R cell, so the start is random among free cells, as D4RL's maze2d.
gymnasium-robotics counts the goal as reached within 0.45 of a goal it re-noises on every
reset; D4RL (and these specs: `goal_xy`, GOAL_RADIUS) use one fixed goal and 0.5
(docs/faithfulness.md#goal-radius).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from typing import Any, Iterator, Mapping, NamedTuple, Optional

import numpy as np

from vitamin_jax.errors import UnknownDatasetError

R, G = "r", "g"
TOY_ENV_ID = "vitamin/SingleStateToy-v0"  # registered by vitamin_jax.envs
GOAL_RADIUS = 0.5  # D4RL's goal_reaching_env and maze2d reward (gymnasium-robotics: 0.45)
_MAZE_SCALING = {"antmaze": 4.0, "maze2d": 1.0}  # gymnasium-robotics' maze_size_scaling
# D4RL's maze state from gymnasium-robotics' dict: maze2d (x, y, vx, vy) is `observation`; the ant's
# qpos + qvel is split into achieved_goal (x, y) and `observation` (the other 27), so D4RL's 29 dims
# are their concatenation (docs/faithfulness.md#maze2d-environments).
_D4RL_STATE_KEYS = {"maze2d": ("observation",), "antmaze": ("achieved_goal", "observation")}
_MAZE_OBSERVATION_DIM = {"maze2d": 4, "antmaze": 27}
# gymnasium-robotics >= 1.2.1 flips the sign of D4RL's -0.1 |palm - object| in these dense rewards
# (docs/faithfulness.md#adroit-dense-reward-sign); pen has no such term.
_HAND_TO_OBJECT_TASKS = ("door", "hammer", "relocate")

ANT_UMAZE = [
    [1, 1, 1, 1, 1],
    [1, G, 0, 0, 1],
    [1, 1, 1, 0, 1],
    [1, R, 0, 0, 1],
    [1, 1, 1, 1, 1],
]
ANT_MEDIUM = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, R, 0, 1, 1, 0, 0, 1],
    [1, 0, 0, 1, 0, 0, 0, 1],
    [1, 1, 0, 0, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 0, 0, 1, 0, 1],
    [1, 0, 0, 0, 1, 0, G, 1],
    [1, 1, 1, 1, 1, 1, 1, 1],
]
ANT_LARGE = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, R, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1],
    [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1, 0, G, 0, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
]
POINT_OPEN = [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0, 0, 1],
    [1, 0, 0, G, 0, 0, 1],
    [1, 0, 0, 0, 0, 0, 1],
    [1, 1, 1, 1, 1, 1, 1],
]
POINT_UMAZE = [
    [1, 1, 1, 1, 1],
    [1, G, 0, 0, 1],
    [1, 1, 1, 0, 1],
    [1, 0, 0, 0, 1],
    [1, 1, 1, 1, 1],
]


def _without_reset(maze: list) -> list:
    """The same maze with its R cell freed: PointMaze starts anywhere, as D4RL's maze2d."""
    return [[0 if cell == R else cell for cell in row] for row in maze]


POINT_MEDIUM = _without_reset(ANT_MEDIUM)
POINT_LARGE = _without_reset(ANT_LARGE)


class FrozenKwargs(Mapping):
    """A read-only, hashable, picklable mapping, so that a DatasetSpec can be a dict key."""

    def __init__(self, **kwargs: Any):
        self._items = dict(kwargs)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __repr__(self) -> str:
        return f"FrozenKwargs({self._items!r})"


@dataclasses.dataclass(frozen=True)
class EnvVersion:
    """Another environment version, for data recorded with other observation dims than `env_id`'s."""

    env_id: str
    env_kwargs: Mapping  # FrozenKwargs
    obs_dim: int  # the observation size it gives (what the data must have)
    zero_dims: int = 0  # zeros appended to env_id's observation (D4RL's all-zero contact forces)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything the rest of the code needs to know about one dataset name."""

    name: str  # 'hopper-medium', 'pen-human', 'antmaze-umaze-diverse', 'maze2d-large', 'toy'
    family: str  # 'mujoco' | 'adroit' | 'antmaze' | 'maze2d' | 'toy'
    env_id: str  # gymnasium id
    env_kwargs: Mapping  # extra gymnasium.make kwargs (FrozenKwargs; maze_map as nested tuples)
    max_episode_steps: int  # D4RL time limit
    reward_divisor: float  # dataset AND environment rewards are divided by this
    reward_shift: float  # added after division (AntMaze -1)
    reward_scale: float  # RTG scale only; critic rewards are not scaled (docs/faithfulness.md#critic-rewards-are-not-rtg-scaled)
    ref_min: float  # D4RL reference scores, in the environment's raw reward units
    ref_max: float
    minari_id: Optional[str]  # None: generated locally (MuJoCo random, medium-replay; toy)
    critic_layer_norm: bool
    is_goal_conditioned: bool  # dict observations; make_env gives D4RL's flat layout (or goal-appended)
    goal_cell: Optional[tuple] = None  # mazes: (row, col) of the one evaluation goal (the map's G)
    maze_scaling: float = 0.0  # mazes: gymnasium-robotics' maze_size_scaling (AntMaze 4, PointMaze 1)
    legacy_env: Optional[EnvVersion] = None  # reproduces D4RL's hdf5 dims where env_id does not (ant)
    # Task behaviour, read by make_env and the data pipeline instead of testing `family`:
    uses_mujoco: bool = False  # a MuJoCo simulation (all but the toy): make_env routes MuJoCo's warnings first
    needs_gymnasium_robotics: bool = False  # env_id is registered by importing gymnasium_robotics
    ends_at_goal: bool = False  # AntMaze: episodes end at the goal (env), data splits after every goal row (relabel)
    ends_at_pen_drop: bool = False  # pen: D4RL's episode ends when the pen drops (PenDropTermination)
    hand_to_object_task: Optional[str] = None  # door/hammer/relocate: reward term whose sign D4RL and g-r differ in
    d4rl_state_keys: tuple = ()  # mazes: dict-observation keys concatenated into D4RL's flat state
    maze_observation_dim: int = 0  # mazes: size of the dict's 'observation' (maze2d 4, antmaze 27)
    removes_trivial_trajs: bool = False  # AntMaze: config.dataset.remove_trivial_trajs applies (one-step filter)
    reports_success_rate: bool = False  # AntMaze: evaluation also reports the fraction of episodes at the goal
    builtin_dataset: bool = False  # the toy: its data is made in code (toy_dataset), never read or generated
    env_label: str = ""  # env part of generated dataset ids: 'hopper' ('hopper-random'); mazes, toy: the name
    dataset_kind: str = "data"  # dataset part: 'medium-replay' ('hopper-medium-replay'); mazes, toy: 'data'
    preset: str = ""  # the config that trains it: 'configs/<family>.py:<name>' ('configs/toy.py' for the toy)

    @property
    def goal_xy(self):
        """The fixed evaluation goal, the goal cell's centre in gymnasium-robotics coordinates [2].

        D4RL's maze2d target is its goal cell exactly; its antmaze target adds a random offset of
        up to a quarter cell, drawn once (docs/faithfulness.md#goal-radius).
        """
        if self.goal_cell is None:
            raise ValueError(f"dataset {self.name!r} has no maze goal")
        rows, cols = len(self.env_kwargs["maze_map"]), len(self.env_kwargs["maze_map"][0])
        row, col = self.goal_cell
        scale = self.maze_scaling
        return np.array([(col + 0.5) * scale - cols / 2 * scale, rows / 2 * scale - (row + 0.5) * scale])

    def wrap_reward(self, reward):
        """Environment reward -> the units training sees: r / divisor + shift (scalars or arrays)."""
        return reward / self.reward_divisor + self.reward_shift

    def unwrap_reward(self, reward):
        """The inverse of `wrap_reward`: training units -> the environment's raw units (D4RL scores)."""
        return (reward - self.reward_shift) * self.reward_divisor


class _Row(NamedTuple):
    prefix: str
    family: str
    env_id: str
    kinds: tuple  # dataset name = prefix-kind ('' = the prefix alone)
    limit: int
    divisor: float
    rtg_scale: float
    ref_min: float
    ref_max: float
    maze: Optional[list] = None
    legacy: Optional[EnvVersion] = None


# D4RL's Ant-v2 observation is 27 + 84 contact forces = 111, and in D4RL's files (mujoco 2.x) those
# 84 are all zero, as its reward's contact cost was (D4RL issue 143). Ant-v5 gives 105; Ant-v4 without
# contact forces (27, no contact cost) plus 84 zeros is D4RL's env (docs/faithfulness.md#mujoco-datasets).
_D4RL_ANT = EnvVersion("Ant-v4", FrozenKwargs(use_contact_forces=False), 111, zero_dims=84)
_MUJOCO = ("random", "medium", "medium-replay", "expert")
_ADROIT = ("human", "cloned", "expert")

# RTG 1e-3 for door and no /100 for maze2d-open: docs/faithfulness.md#door-rtg-scale and
# docs/faithfulness.md#maze2d-open-reward-division.
# fmt: off
_TABLE = tuple(_Row(*row) for row in (
    # prefix          family     env id                  kinds                T     r/div   RTG   ref min      ref max             maze
    ("hopper",         "mujoco",  "Hopper-v5",             _MUJOCO,             1000, 1.0,    1e-3, -20.272305,  3234.3),
    ("halfcheetah",    "mujoco",  "HalfCheetah-v5",        _MUJOCO,             1000, 1.0,    1e-3, -280.178953, 12135.0),
    ("walker2d",       "mujoco",  "Walker2d-v5",           _MUJOCO,             1000, 1.0,    1e-3, 1.629008,    4592.3),
    ("ant",            "mujoco",  "Ant-v5",                _MUJOCO,             1000, 1.0,    1e-3, -325.6,      3879.7,     None, _D4RL_ANT),
    ("pen",            "adroit",  "AdroitHandPen-v1",      _ADROIT,             100,  100.0,  1.0,  96.262799,   3076.8331017826877),
    ("hammer",         "adroit",  "AdroitHandHammer-v1",   _ADROIT,             200,  1000.0, 1.0,  -274.856578, 12794.134825156867),
    ("door",           "adroit",  "AdroitHandDoor-v1",     _ADROIT,             200,  100.0,  1e-3, -56.512833,  2880.5693087298737),
    ("relocate",       "adroit",  "AdroitHandRelocate-v1", _ADROIT,             200,  100.0,  1.0,  -6.425911,   4233.877797728884),
    ("antmaze-umaze",  "antmaze", "AntMaze_UMaze-v4",      ("", "diverse"),     700,  1.0,    1e-3, 0.0, 1.0,    ANT_UMAZE),
    ("antmaze-medium", "antmaze", "AntMaze_Medium-v4",     ("play", "diverse"), 1000, 1.0,    1e-3, 0.0, 1.0,    ANT_MEDIUM),
    ("antmaze-large",  "antmaze", "AntMaze_Large-v4",      ("play", "diverse"), 1000, 1.0,    1e-3, 0.0, 1.0,    ANT_LARGE),
    ("maze2d-open",    "maze2d",  "PointMaze_Open-v3",     ("",),               150,  1.0,    1.0,  0.01,  20.66,  POINT_OPEN),
    ("maze2d-umaze",   "maze2d",  "PointMaze_UMaze-v3",    ("",),               300,  1.0,    1.0,  23.85, 161.86, POINT_UMAZE),
    ("maze2d-medium",  "maze2d",  "PointMaze_Medium-v3",   ("",),               600,  1.0,    1.0,  13.13, 277.39, POINT_MEDIUM),
    ("maze2d-large",   "maze2d",  "PointMaze_Large-v3",    ("",),               800,  1.0,    1.0,  6.7,   273.99, POINT_LARGE),
    ("toy",            "toy",     TOY_ENV_ID,              ("",),               1,    1.0,    1.0,  0.0,   1.0),
))
# fmt: on


def _minari_id(row: _Row, kind: str) -> Optional[str]:
    """Minari's id for the dataset where Minari has one (docs/reference.md#minari-dataset-ids)."""
    if row.family == "mujoco":  # Minari's v5 regenerations have no random or medium-replay sets
        return f"mujoco/{row.prefix}/{kind}-v0" if kind in ("medium", "expert") else None
    if row.family == "adroit":
        return f"D4RL/{row.prefix}/{kind}-v2"
    if row.family not in ("antmaze", "maze2d"):
        return None
    maze = row.prefix.split("-", 1)[1] + (f"-{kind}" if kind else "")
    if row.family == "antmaze":
        return f"D4RL/antmaze/{maze}-v1"
    return f"D4RL/pointmaze/{maze}-v2"


def _env_kwargs(row: _Row) -> Mapping:
    """AntMaze evaluates as D4RL (episode ends at the goal); maze2d keeps going, as D4RL's."""
    if row.maze is None:
        return FrozenKwargs()
    maze = tuple(tuple(r) for r in row.maze)  # immutable, so specs stay hashable and unshared
    return FrozenKwargs(maze_map=maze, continuing_task=row.family == "maze2d", reset_target=False,
                        reward_type="sparse")


def _goal_cell(maze: Optional[list]) -> Optional[tuple]:
    """(row, col) of the single G cell of a maze map."""
    if maze is None:
        return None
    cells = [(i, j) for i, row in enumerate(maze) for j, cell in enumerate(row) if cell == G]
    if len(cells) != 1:
        raise ValueError(f"a maze needs exactly one goal cell, found {cells}")
    return cells[0]


def _task_behaviour(row: _Row, name: str, kind: str) -> dict:
    """The family-dependent behaviour fields of one dataset (the one place that tests families)."""
    per_env = row.family in ("mujoco", "adroit")  # dataset names are '<env>-<kind>'
    antmaze = row.family == "antmaze"
    return dict(
        uses_mujoco=row.family != "toy", needs_gymnasium_robotics=row.family in ("adroit", "antmaze", "maze2d"),
        ends_at_goal=antmaze, ends_at_pen_drop=row.prefix == "pen",
        hand_to_object_task=row.prefix if row.prefix in _HAND_TO_OBJECT_TASKS else None,
        d4rl_state_keys=_D4RL_STATE_KEYS.get(row.family, ()),
        maze_observation_dim=_MAZE_OBSERVATION_DIM.get(row.family, 0),
        removes_trivial_trajs=antmaze, reports_success_rate=antmaze, builtin_dataset=row.family == "toy",
        env_label=row.prefix if per_env else name, dataset_kind=kind if per_env else "data",
        preset=f"configs/{row.family}.py" + ("" if row.family == "toy" else f":{name}"),  # the toy has no presets
    )


def _build_registry() -> dict[str, DatasetSpec]:
    specs = {}
    for row in _TABLE:
        for kind in row.kinds:
            name = f"{row.prefix}-{kind}" if kind else row.prefix
            specs[name] = DatasetSpec(
                name=name, family=row.family, env_id=row.env_id, env_kwargs=_env_kwargs(row),
                max_episode_steps=row.limit, reward_divisor=row.divisor,
                reward_shift=-1.0 if row.family == "antmaze" else 0.0, reward_scale=row.rtg_scale,
                ref_min=row.ref_min, ref_max=row.ref_max, minari_id=_minari_id(row, kind),
                critic_layer_norm=row.family in ("adroit", "antmaze", "maze2d"),
                is_goal_conditioned=row.family in ("antmaze", "maze2d"),
                goal_cell=_goal_cell(row.maze), maze_scaling=_MAZE_SCALING.get(row.family, 0.0),
                legacy_env=row.legacy, **_task_behaviour(row, name, kind),
            )
    return specs


REGISTRY: Mapping[str, DatasetSpec] = types.MappingProxyType(_build_registry())


def dataset_names() -> list[str]:
    """All registry names, sorted."""
    return sorted(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """Spec of a dataset name; a trailing D4RL version ('hopper-medium-v2') is accepted."""
    key = re.sub(r"-v\d+$", "", name.strip().lower())
    if key in REGISTRY:
        return REGISTRY[key]
    close = difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}{hint} (full list: vitamin_jax.envs.dataset_names(), "
        f"or the table in vitamin_jax/envs/registry.py)")
