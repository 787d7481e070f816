"""Dataset sources -> list of trajectory dicts (docs/design.md#dataset-loading).

A trajectory is a dict of NumPy arrays with time first: observations [T, S], actions [T, A],
rewards [T], next_observations [T, S], terminals [T] and timeouts [T] (float32 0/1).

Sources, first match wins: an explicit `.hdf5` path (legacy D4RL file); an explicit Minari
id; the toy MDP's own data; the registry's Minari id; a locally generated Minari dataset
(`vitamin/<env>/random-v0`, written by `python -m vitamin_jax.data generate`). Nothing is
downloaded unless asked (`config.dataset.download`). Every missing or unreadable dataset
raises `DatasetError`, whose one-line message says where we looked and how to fix it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from vitamin_jax import envs
from vitamin_jax.data.replay import as_trajectory
from vitamin_jax.errors import DatasetError

GENERATED_NAMESPACE = "vitamin"
DEFAULT_GENERATE_STEPS = 1_000_000


@dataclasses.dataclass(frozen=True)
class LoadedDataset:
    trajectories: list
    source: str  # e.g. "minari D4RL/pen/human-v2 (/root/.minari/datasets/D4RL/pen/human-v2)"
    minari_id: str = ""  # the Minari dataset read ('' for hdf5 and toy data): its episodes as recorded


# ---------------------------------------------------------------------------- naming
def minari_root() -> Path:
    """The local Minari directory: $MINARI_DATASETS_PATH, else ~/.minari/datasets (as Minari)."""
    path = os.environ.get("MINARI_DATASETS_PATH")
    return Path(path) if path else Path(os.path.expanduser("~")) / ".minari" / "datasets"


def generated_dataset_id(label: str, kind: str) -> str:
    """Id of a locally generated dataset, e.g. 'vitamin/hopper/random-v0'."""
    return f"{GENERATED_NAMESPACE}/{label}/{kind}-v0"


def default_minari_id(spec: Any) -> str:
    """The registry's Minari id, else the id a local generation writes for this dataset."""
    return spec.minari_id or generated_dataset_id(spec.env_label, spec.dataset_kind)


def is_generatable(spec: Any, dataset_id: str) -> bool:
    """True if `generate --policy random` writes exactly this dataset (MuJoCo random sets)."""
    return spec.dataset_kind == "random" and dataset_id == generated_dataset_id(spec.env_label, "random")


def fix_instructions(spec: Any, dataset_id: str, num_steps: int = DEFAULT_GENERATE_STEPS) -> str:
    """The commands that make `dataset_id` available, as one line."""
    root = minari_root()
    label = spec.env_label
    if is_generatable(spec, dataset_id):
        return (f"generate it: python -m vitamin_jax.data generate --env {label} --policy random "
                f"--num-steps {num_steps} (or set --config.dataset.generate_if_missing=True); "
                f"or pass a D4RL file with --config.dataset.path=FILE.hdf5")
    generate = (f"python -m vitamin_jax.data generate --env {spec.name} --policy random --num-steps {num_steps} "
                f"and pass --config.dataset.minari_id={generated_dataset_id(label, 'random')}")
    if dataset_id.startswith(GENERATED_NAMESPACE + "/"):
        source = (f"generate it with a trained actor: python -m vitamin_jax.data generate --env {spec.name} "
                  f"--policy CHECKPOINT_DIR --num-steps {num_steps} --dataset-id {dataset_id}")
    else:
        source = (f"on a machine with network run `minari download {dataset_id}` and copy "
                  f"~/.minari/datasets/{dataset_id} to {root / dataset_id}")
    return (f"{source}; or pass a D4RL file with --config.dataset.path=FILE.hdf5; "
            f"or use random-policy data instead: {generate}")


# ---------------------------------------------------------------------------- Minari
def minari_dataset_path(dataset_id: str) -> Path:
    return minari_root() / dataset_id


def minari_exists(dataset_id: str) -> bool:
    return (minari_dataset_path(dataset_id) / "data").is_dir()


def episode_to_trajectory(observations: Any, actions: np.ndarray, rewards: np.ndarray, terminations: np.ndarray,
                          truncations: np.ndarray) -> dict:
    """A Minari episode (T + 1 observations, dict ones flattened) as a trajectory dict."""
    obs = np.asarray(envs.flatten_observation(observations), np.float32)
    steps = len(rewards)
    if obs.shape[0] != steps + 1:
        raise ValueError(f"episode has {obs.shape[0]} observations for {steps} steps (expected {steps + 1})")
    return as_trajectory({
        "observations": obs[:-1], "next_observations": obs[1:], "actions": actions, "rewards": rewards,
        "terminals": np.asarray(terminations, np.float32), "timeouts": np.asarray(truncations, np.float32),
    })


def load_minari(dataset_id: str, *, download: bool = False, spec: Any = None) -> list[dict]:
    """Episodes of a local Minari dataset as trajectories; `download` tries minari.download_dataset first."""
    import minari

    path = minari_dataset_path(dataset_id)
    name = f"dataset {spec.name!r}: " if spec is not None else ""
    if spec is not None:
        fix = fix_instructions(spec, dataset_id)
    elif dataset_id.startswith(GENERATED_NAMESPACE + "/"):  # ours: generated, never on Minari's server
        fix = (f"generate it: python -m vitamin_jax.data generate --env ENV --policy random "
               f"--dataset-id {dataset_id}")
    else:
        fix = f"on a machine with network run `minari download {dataset_id}` and copy it to {path}"
    if not minari_exists(dataset_id):
        if not download:
            raise DatasetError(f"{name}Minari dataset {dataset_id} not found in {minari_root()} "
                               f"(looked for {path}; set MINARI_DATASETS_PATH to change the directory). To fix: {fix}")
        try:
            minari.download_dataset(dataset_id)
        except Exception as e:  # no network, unknown id, server errors: all end the same way
            raise DatasetError(f"{name}Minari dataset {dataset_id} is not in {minari_root()} and downloading it "
                               f"failed ({type(e).__name__}: {first_line(e)}). To fix: {fix}") from e
    try:
        dataset = minari.load_dataset(dataset_id)
        trajs = [episode_to_trajectory(ep.observations, ep.actions, ep.rewards, ep.terminations, ep.truncations)
                 for ep in dataset.iterate_episodes()]
    except DatasetError:
        raise
    except Exception as e:
        raise DatasetError(f"{name}Minari dataset {dataset_id} at {path} could not be read "
                           f"({type(e).__name__}: {first_line(e)}); it may be corrupt or incomplete: delete it "
                           f"(rm -r {path}), then {fix}") from e
    if not trajs:
        raise DatasetError(f"{name}Minari dataset {dataset_id} at {path} holds no episodes. To fix: {fix}")
    return trajs


# ---------------------------------------------------------------------------- hdf5
def split_transitions(arrays: Mapping[str, np.ndarray], max_episode_steps: Optional[int] = None) -> list[dict]:
    """Cut flat D4RL-style arrays into trajectories at terminals or timeouts.

    A trailing trajectory with no terminal/timeout is dropped (as the original's download
    scripts). Without `next_observations`, next_observations[i] = observations[i + 1] and
    the last transition is dropped (as the original's Adroit/Maze2D scripts). Without
    `timeouts`, trajectories are also closed every `max_episode_steps` steps.
    """
    for key in ("observations", "actions", "rewards", "terminals"):
        if key not in arrays:
            raise ValueError(f"missing key {key!r} (has {sorted(arrays)})")
    obs = np.asarray(arrays["observations"], np.float32)
    n = len(obs)
    if "next_observations" in arrays:
        next_obs = np.asarray(arrays["next_observations"], np.float32)
    else:
        n -= 1
        next_obs = obs[1:]
    terminals = np.asarray(arrays["terminals"], np.float32).reshape(-1)[:n]
    if "timeouts" in arrays:
        timeouts = np.asarray(arrays["timeouts"], np.float32).reshape(-1)[:n]
        ends = (terminals > 0) | (timeouts > 0)
    else:
        timeouts = np.zeros(n, np.float32)
        ends = terminals > 0
        if max_episode_steps:
            ends = ends.copy()
            since = 0
            for i in range(n):  # a fixed-length fallback needs the running length: a short loop
                since += 1
                if ends[i] or since == max_episode_steps:
                    ends[i], since = True, 0
            timeouts = (ends & (terminals <= 0)).astype(np.float32)
    columns = {"observations": obs[:n], "next_observations": next_obs[:n],
               "actions": np.asarray(arrays["actions"], np.float32)[:n],
               "rewards": np.asarray(arrays["rewards"], np.float32).reshape(-1)[:n],
               "terminals": terminals, "timeouts": timeouts}
    for key, value in columns.items():
        if len(value) != n:
            raise ValueError(f"key {key!r} has {len(value)} entries, expected {n}")
    stops = np.flatnonzero(ends) + 1
    starts = np.concatenate([[0], stops[:-1]])
    return [as_trajectory({k: v[s:e] for k, v in columns.items()}) for s, e in zip(starts, stops)]


def load_hdf5(path: str, max_episode_steps: Optional[int] = None) -> list[dict]:
    """A legacy D4RL .hdf5 file (keys observations, actions, rewards, terminals, timeouts)."""
    import h5py

    if os.path.isdir(path):
        raise DatasetError(f"dataset file {path} is a directory, not a D4RL .hdf5 file (config.dataset.path); "
                           f"give the file's path, or pass a Minari dataset with --config.dataset.minari_id")
    if not os.path.isfile(path):
        raise DatasetError(f"dataset file {path} does not exist (config.dataset.path); give the path of a D4RL "
                           f".hdf5 file, or leave config.dataset.path empty to use the Minari directory "
                           f"{minari_root()}")
    try:
        with h5py.File(path, "r") as f:
            arrays = {k: f[k][()] for k in ("observations", "actions", "rewards", "terminals", "timeouts",
                                            "next_observations") if k in f and isinstance(f[k], h5py.Dataset)}
        trajs = split_transitions(arrays, max_episode_steps)
    except Exception as e:
        raise DatasetError(f"dataset file {path} could not be read as a D4RL hdf5 file "
                           f"({type(e).__name__}: {first_line(e)}); it needs the keys observations, actions, "
                           f"rewards, terminals and timeouts") from e
    if not trajs:
        raise DatasetError(f"dataset file {path} holds no complete trajectory (no terminal or timeout flag set)")
    return trajs


# ---------------------------------------------------------------------------- entry points
def load_trajectories(name: str, *, path: str = "", minari_id: str = "", download: bool = False,
                      seed: int = 0) -> LoadedDataset:
    """Trajectories of registry dataset `name`: path > minari_id > toy > registry id > generated id."""
    spec = envs.get_spec(name)
    if path:
        return LoadedDataset(load_hdf5(path, spec.max_episode_steps), f"hdf5 {path}")
    if not minari_id and spec.builtin_dataset:
        return LoadedDataset([as_trajectory(t) for t in envs.toy_dataset(seed)], f"toy data (seed {seed})")
    dataset_id = minari_id or default_minari_id(spec)
    trajs = load_minari(dataset_id, download=download, spec=spec)
    return LoadedDataset(trajs, f"minari {dataset_id} ({minari_dataset_path(dataset_id)})", dataset_id)


def load_from_config(config: Any, spec: Any = None) -> LoadedDataset:
    """`load_trajectories` with the fields of `config.dataset` (configs/base.py)."""
    d = config.dataset
    return load_trajectories(
        spec.name if spec is not None else config.env_name, path=d.path, minari_id=d.minari_id,
        download=bool(d.download), seed=int(config.seed),
    )


def first_line(e: BaseException) -> str:
    """The first line of an exception's message, for one-line errors ("" if it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else ""

