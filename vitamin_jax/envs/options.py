"""The `make_env` keywords a run's config asks for, so that the data and the environment agree.

Every consumer that builds the training or evaluation environment of a config passes
`**env_options(config)` to `make_env`: the dataset's state layout must be the environment's
(docs/faithfulness.md#maze2d-environments), and D4RL's own Ant files need the Ant version that
gives their 111 dims, contact forces all zero (docs/faithfulness.md#mujoco-datasets).
"""

from __future__ import annotations

from typing import Any, Optional

from vitamin_jax.envs.registry import get_spec


def hdf5_observation_dim(path: str) -> Optional[int]:
    """The last dim of a legacy file's `observations`, or None when it cannot be read (the loader then says why)."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return int(f["observations"].shape[-1])
    except Exception:  # missing or malformed: load_hdf5 raises the one-line DatasetError
        return None


def env_options(config: Any) -> dict:
    """{'observation_layout': ..., 'legacy_env': ...} for `make_env(config.env_name, ...)`.

    The legacy env (registry `legacy_env`, e.g. Ant-v4 and 84 zeros) is chosen when a
    legacy D4RL file (`config.dataset.path`) has exactly its observation dims; otherwise the
    default env, and the load-time dims check names both shapes if they differ.
    """
    spec = get_spec(config.env_name)
    dataset = config.dataset
    options: dict = {"observation_layout": str(dataset.get("observation_layout", "d4rl"))}
    path = dataset.get("path", "")
    if spec.legacy_env is not None and path and hdf5_observation_dim(path) == spec.legacy_env.obs_dim:
        options["legacy_env"] = True
    return options
