"""Offline data: loading (Minari, D4RL hdf5, generated, toy), preprocessing, replay, sampling.

Flow: `offline_data(config)` -> `OfflineData.trajectories` -> `RunReplay` (one
`ReplayBuffer` per seed) -> windows by `sampler.sample` (device) or `SegmentSampler` (host)
-> `vitamin_jax.types.Batch`.
"""

from vitamin_jax.data.batches import RunReplay
from vitamin_jax.data.loading import (
    DatasetError,
    LoadedDataset,
    default_minari_id,
    load_from_config,
    load_hdf5,
    load_minari,
    load_trajectories,
    minari_root,
    split_transitions,
)
from vitamin_jax.data.preprocess import DatasetSummary, OfflineData, offline_data, preprocess_trajectories, summarize
from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer, flatten_trajectories, trajectory_return
from vitamin_jax.data.sampler import SegmentSampler

__all__ = [
    "DatasetError", "DatasetSummary", "FlatTrajectories", "LoadedDataset", "OfflineData", "ReplayBuffer", "RunReplay",
    "SegmentSampler", "default_minari_id", "flatten_trajectories", "load_from_config", "load_hdf5", "load_minari",
    "load_trajectories", "minari_root", "offline_data", "preprocess_trajectories", "split_transitions", "summarize",
    "trajectory_return",
]
