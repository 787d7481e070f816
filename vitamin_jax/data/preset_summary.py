"""A dataset as a preset sees it (`python -m vitamin_jax.data summary ID --env NAME`).

So that what training will read (after D4RL's relabelling and layout, vitamin_jax.data.relabel,
and the preset's preprocessing) can be checked before a run, without starting one.
"""

from __future__ import annotations

from typing import Any

from vitamin_jax import envs
from vitamin_jax.configuration import load_config
from vitamin_jax.data.loading import load_from_config
from vitamin_jax.data.preprocess import preprocess_as_configured, summarize
from vitamin_jax.data.relabel import apply, success_fraction


def preset_config(spec: Any):
    """The preset config of a registry dataset (`DatasetSpec.preset`: configs/<family>.py:<name>; toy: no name)."""
    return load_config(spec.preset)


def preset_summary(dataset: str, env_name: str) -> list[str]:
    """Lines describing `dataset` (a Minari id or a .hdf5 file) read as preset `env_name` reads it.

    Line 1: after relabelling, in the environment's units: episodes, transitions, returns,
    lengths and (mazes) the fraction of trajectories that reach the fixed goal. Then one line per
    relabelling note, then the summary after the preset's preprocessing (training units).
    """
    spec = envs.get_spec(env_name)
    config = preset_config(spec)
    if dataset.endswith((".hdf5", ".h5")):
        config.dataset.path = dataset
    else:
        config.dataset.minari_id = dataset
    loaded = load_from_config(config, spec)
    trajectories, notes = apply(loaded, spec, config)
    success = success_fraction(trajectories, spec)
    reached = f", success fraction {success:.3f}" if success is not None else ""
    state_dim = trajectories[0]["observations"].shape[-1]
    lines = [f"{dataset} as {spec.name} sees it ({state_dim}-dim states): {summarize(trajectories)}{reached}"]
    lines += [f"  {note}" for note in notes]
    data = preprocess_as_configured(trajectories, spec, config, loaded.source)
    lines.append(f"  after the preset's preprocessing (training units): {data.summary}")
    return lines
