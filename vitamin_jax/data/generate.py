"""Local dataset generation: roll a policy in the bare environment and write a Minari dataset.

D4RL's MuJoCo "random" sets (uniform random actions, 1M transitions) have no Minari
counterpart, so we regenerate them here. The result is an ordinary Minari dataset (loadable
with `minari.load_dataset`, listed by `minari list local`). Rewards are the environment's
raw rewards (`make_env(..., raw=True)`), like D4RL's; episodes end at termination or at the
environment's time limit, and the last one is cut so the dataset holds exactly `num_steps`
transitions (Minari marks that cut episode truncated).

Collection happens in a hidden temporary directory inside the Minari root and the finished
dataset is moved into place in one rename, so an interrupted run leaves no half dataset.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional, Protocol, Union, runtime_checkable

import numpy as np

from vitamin_jax import envs
from vitamin_jax import policy as policy_module
from vitamin_jax.data.loading import (
    default_minari_id,
    fix_instructions,
    generated_dataset_id,
    is_generatable,
    minari_exists,
    minari_root,
)
from vitamin_jax.errors import DatasetError, SavedRunError

_TEMP_PREFIX = ".vitamin-generate-"  # hidden: Minari's listing skips dot-directories
_PID_FILE = "owner.pid"


@runtime_checkable
class Policy(Protocol):
    """What generation needs from a policy. Observations are flat float32 vectors."""

    def reset(self) -> None:
        """Start of an episode (clear context, reset the return-to-go)."""

    def act(self, observation: np.ndarray) -> np.ndarray:
        """Action for the current observation, inside the action space."""

    def observe(self, reward: float) -> None:
        """The raw reward of the step just taken (a DT policy lowers its RTG with it)."""


class RandomPolicy:
    """Uniform actions in the Box action space, as D4RL's random datasets; seeded."""

    def __init__(self, action_space: Any, seed: int = 0):
        self.low = np.asarray(action_space.low, np.float64)
        self.high = np.asarray(action_space.high, np.float64)
        self.dtype = action_space.dtype
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self.rng.uniform(self.low, self.high).astype(self.dtype)

    def observe(self, reward: float) -> None:
        pass


def load_checkpoint_policy(checkpoint_dir: str, *, noise: float = 0.0, seed: int = 0) -> Policy:
    """A saved actor of ours as a `Policy` (via `vitamin_jax.policy.load_policy`)."""
    if not os.path.isdir(checkpoint_dir):
        raise DatasetError(f"--policy {checkpoint_dir!r} is neither 'random' nor a checkpoint directory")
    try:
        return policy_module.load_policy(checkpoint_dir, noise=noise, seed=seed)
    except SavedRunError as e:
        raise DatasetError(f"cannot load the policy in {checkpoint_dir}: {e}") from e


def resolve_env(env: str) -> Any:
    """A registry spec from a full dataset name ('hopper-random') or an env prefix ('hopper', 'pen')."""
    try:
        return envs.get_spec(env)
    except envs.UnknownDatasetError as error:
        for suffix in ("random", "medium", "human", "expert", "cloned"):
            try:
                return envs.get_spec(f"{env}-{suffix}")
            except envs.UnknownDatasetError:
                continue
        raise error


def default_dataset_id(spec: Any, policy: Union[str, Policy]) -> str:
    """vitamin/<env>/random-v0 for the random policy, vitamin/<env>/policy-v0 otherwise."""
    return generated_dataset_id(spec.env_label, "random" if policy == "random" else "policy")


def generate_dataset(env: str, *, policy: Union[str, Policy] = "random", num_steps: int = 1_000_000,
                     dataset_id: Optional[str] = None, seed: int = 0, noise: float = 0.0,
                     progress: bool = True) -> str:
    """Collect `num_steps` transitions with `policy` and write Minari dataset `dataset_id`; return the id.

    policy: 'random', a checkpoint directory, or any `Policy` object.
    """
    if num_steps < 1:
        raise DatasetError(f"--num-steps must be >= 1, got {num_steps}")
    spec = resolve_env(env)
    root = minari_root()
    dataset_id = _new_dataset_id(spec, policy, dataset_id, root)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(root)

    raw_env = envs.make_env(spec.name, seed=seed, raw=True)
    policy_obj, algorithm = _policy_and_algorithm(policy, raw_env.action_space, noise, seed)
    temp_root = tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=root)
    Path(temp_root, _PID_FILE).write_text(str(os.getpid()))
    previous = os.environ.get("MINARI_DATASETS_PATH")
    try:
        os.environ["MINARI_DATASETS_PATH"] = temp_root  # Minari writes under this root
        _collect_and_write(raw_env, spec, policy_obj, algorithm, dataset_id, num_steps=num_steps, seed=seed,
                           progress=progress)
        _install(Path(temp_root), root, dataset_id)
    finally:
        _restore_env(previous)
        shutil.rmtree(temp_root, ignore_errors=True)
    return dataset_id


def _new_dataset_id(spec: Any, policy: Union[str, Policy], dataset_id: Optional[str], root: Path) -> str:
    """The id to write (default: `default_dataset_id`), checked to be well formed and not yet in `root`."""
    import minari

    dataset_id = dataset_id or default_dataset_id(spec, policy)
    try:
        minari.dataset.minari_dataset.parse_dataset_id(dataset_id)
    except ValueError as e:
        raise DatasetError(f"bad dataset id {dataset_id!r}: use the form namespace/name-vN, e.g. "
                           f"{default_dataset_id(spec, policy)}") from e
    final = root / dataset_id
    if final.exists():
        raise DatasetError(f"Minari dataset {dataset_id} already exists at {final}; delete it "
                           f"(`minari delete {dataset_id}`) or pass another --dataset-id")
    return dataset_id


def _policy_and_algorithm(policy: Union[str, Policy], action_space: Any, noise: float, seed: int) -> tuple:
    """The `Policy` to roll and the algorithm name the dataset's metadata records for it."""
    if not isinstance(policy, str):
        return policy, type(policy).__name__
    if policy == "random":
        return RandomPolicy(action_space, seed), "uniform random actions in the action space (D4RL random)"
    return (load_checkpoint_policy(policy, noise=noise, seed=seed),
            f"vitamin_jax actor from {os.path.abspath(policy)} with Gaussian noise {noise}")


def _state_function(spec: Any, policy: Policy) -> Any:
    """Raw observation -> the flat state the policy reads (a checkpoint policy: in its run's layout)."""
    run_config = getattr(policy, "config", None)
    layout = run_config.dataset.get("observation_layout", "d4rl") if run_config is not None else "d4rl"
    return functools.partial(envs.state_vector, state_keys=spec.d4rl_state_keys, layout=layout)


def _collect_and_write(raw_env: Any, spec: Any, policy: Policy, algorithm: str, dataset_id: str, *,
                       num_steps: int, seed: int, progress: bool) -> None:
    """Roll `policy` in `raw_env` under a Minari DataCollector and write the dataset (under MINARI_DATASETS_PATH)."""
    import minari
    from tqdm import tqdm

    collector = minari.DataCollector(raw_env, record_infos=False)
    try:
        _collect(collector, policy, _state_function(spec, policy), num_steps, seed,
                 tqdm(total=num_steps, unit="step", desc=f"generate {dataset_id}", disable=not progress,
                      mininterval=1.0))
        metadata: dict = {}
        if getattr(spec, "ref_min", None) is not None and getattr(spec, "ref_max", None) is not None:
            metadata = dict(ref_min_score=float(spec.ref_min), ref_max_score=float(spec.ref_max))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari nags about author e-mail etc.
            collector.create_dataset(
                dataset_id=dataset_id, algorithm_name=algorithm, author="vitamin_jax",
                code_permalink="vitamin_jax/data/generate.py",
                description=(f"{num_steps} transitions of {spec.env_id} (dataset {spec.name}, kind "
                             f"{spec.dataset_kind}), policy: {algorithm}, seed {seed}; raw env rewards."),
                **metadata,
            )
    finally:
        collector.close()


def _collect(collector: Any, policy: Policy, flatten: Any, num_steps: int, seed: int, bar: Any) -> None:
    """Step-count-based collection; each episode's reset seed is seed + episode index."""
    episode = 0
    obs, _ = collector.reset(seed=seed)
    policy.reset()
    try:
        for step in range(num_steps):
            action = policy.act(np.asarray(flatten(obs), np.float32))
            obs, reward, terminated, truncated, _ = collector.step(action)
            policy.observe(float(reward))
            if (terminated or truncated) and step + 1 < num_steps:
                episode += 1
                obs, _ = collector.reset(seed=seed + episode)
                policy.reset()
            if (step + 1) % 1000 == 0 or step + 1 == num_steps:
                bar.update((step + 1) - bar.n)
    finally:
        bar.close()


def _install(temp_root: Path, root: Path, dataset_id: str) -> None:
    """Move the finished dataset into the real root (one rename), with its namespace metadata."""
    parts = dataset_id.split("/")
    for depth in range(1, len(parts)):
        namespace = "/".join(parts[:depth])
        source = temp_root / namespace / "namespace_metadata.json"
        target = root / namespace / "namespace_metadata.json"
        if source.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    final = root / dataset_id
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_root / dataset_id, final)


def _restore_env(previous: Optional[str]) -> None:
    if previous is None:
        os.environ.pop("MINARI_DATASETS_PATH", None)
    else:
        os.environ["MINARI_DATASETS_PATH"] = previous


def _remove_stale_temp_dirs(root: Path) -> None:
    """Remove temp folders left by killed generations (their owner process is gone)."""
    for path in root.glob(_TEMP_PREFIX + "*"):
        try:
            pid = int((path / _PID_FILE).read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            continue  # unreadable or not ours to judge: leave it


def generate_if_missing(config: Any, spec: Any) -> None:
    """`config.dataset.generate_if_missing`: write the configured random-policy dataset if it is absent."""
    d = config.dataset
    if not d.generate_if_missing or d.path or spec.builtin_dataset:
        return
    dataset_id = d.minari_id or default_minari_id(spec)
    if minari_exists(dataset_id):
        return
    if not is_generatable(spec, dataset_id):
        raise DatasetError(f"dataset {spec.name!r}: config.dataset.generate_if_missing only generates "
                           f"random-policy datasets, and {dataset_id} is not one. To fix: "
                           f"{fix_instructions(spec, dataset_id, int(d.generate_num_steps))}")
    print(f"Minari dataset {dataset_id} not found in {minari_root()}; generating {d.generate_num_steps} steps.")
    generate_dataset(spec.name, policy="random", num_steps=int(d.generate_num_steps), dataset_id=dataset_id,
                     seed=int(config.seed))
