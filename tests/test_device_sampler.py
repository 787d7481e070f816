"""The on-device sampler returns exactly the host sampler's windows, also on a wrapped ring."""

import jax
import numpy as np

from vitamin_jax.data import device_replay as device_sampler
from vitamin_jax.data.replay import ReplayBuffer
from vitamin_jax.data.sampler import SegmentSampler

S, A, K = 3, 2, 4


def random_trajectories(rng, count, max_len=7):
    trajs = []
    for _ in range(count):
        n = int(rng.integers(1, max_len + 1))
        trajs.append({
            "observations": rng.normal(size=(n, S)).astype(np.float32),
            "actions": rng.uniform(-1, 1, size=(n, A)).astype(np.float32),
            "rewards": rng.normal(size=n).astype(np.float32),
            "next_observations": rng.normal(size=(n, S)).astype(np.float32),
            "terminals": np.eye(n, dtype=np.float32)[-1],
        })
    return trajs


def test_device_windows_equal_host_windows_on_a_wrapped_ring():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(6, random_trajectories(rng, 6), spare_rows=5)
    for _ in range(4):  # FIFO evictions move the head; the ring wraps
        buffer.add(random_trajectories(rng, 2))
    flat = buffer.flat
    mean, std = rng.normal(size=S).astype(np.float32), rng.uniform(0.5, 2, S).astype(np.float32)
    host = SegmentSampler(buffer, context_len=K, state_mean=mean, state_std=std, reward_scale=0.5)
    replay = device_sampler.to_device(flat, mean, std, 0.5)
    starts = np.arange(flat.num_transitions)
    expected = host.windows(starts)
    got = jax.jit(device_sampler.windows, static_argnums=2)(replay, starts, K)
    for field in expected.__dataclass_fields__:
        np.testing.assert_allclose(np.asarray(getattr(got, field)), getattr(expected, field), rtol=1e-6, atol=1e-6,
                                   err_msg=field)


def test_device_sampling_is_uniform_over_transitions():
    rng = np.random.default_rng(1)
    buffer = ReplayBuffer(10, random_trajectories(rng, 10))
    replay = device_sampler.to_device(buffer.flat, np.zeros(S), np.ones(S), 1.0)
    starts = np.asarray(device_sampler.draw_starts(replay, jax.random.PRNGKey(0), 200_000))
    counts = np.bincount(starts, minlength=buffer.num_transitions) / len(starts)
    np.testing.assert_allclose(counts, 1.0 / buffer.num_transitions, atol=0.01)
    assert starts.max() < buffer.num_transitions
