"""Segment sampler: every field by hand, hindsight RTG against a per-sample reference, sampling law."""

import numpy as np
import pytest

from vitamin_jax.data.replay import ReplayBuffer, flatten_trajectories
from vitamin_jax.constants import ACTION_LIMIT as ACTION_CLIP
from vitamin_jax.data.sampler import SegmentSampler

CLIP = 1.0 - 1e-6


def make_traj(obs, actions, rewards, terminals, next_obs=None):
    obs = np.asarray(obs, np.float32)
    return {
        "observations": obs,
        "next_observations": np.asarray(next_obs if next_obs is not None else obs + 10, np.float32),
        "actions": np.asarray(actions, np.float32),
        "rewards": np.asarray(rewards, np.float32),
        "terminals": np.asarray(terminals, np.float32),
        "timeouts": np.zeros(len(rewards), np.float32),
    }


def random_trajs(rng, n, max_len=30, state_dim=3, act_dim=2, lengths=None):
    trajs = []
    for k in range(n):
        T = int(rng.integers(1, max_len + 1)) if lengths is None else lengths[k]
        terminals = np.zeros(T)
        terminals[-1] = rng.integers(0, 2)
        trajs.append(make_traj(rng.normal(size=(T, state_dim)), rng.uniform(-1.2, 1.2, (T, act_dim)),
                               rng.normal(size=T), terminals, rng.normal(size=(T, state_dim))))
    return trajs


def test_three_step_trajectory_k5_by_hand():
    traj = make_traj(obs=[[1, 2], [3, 4], [5, 6]], next_obs=[[3, 4], [5, 6], [7, 8]],
                     actions=[[0.5], [-1.0], [1.0]], rewards=[1, 2, 3], terminals=[0, 0, 1])
    sampler = SegmentSampler([traj], context_len=5, state_mean=np.array([1.0, 1.0]),
                             state_std=np.array([2.0, 2.0]), reward_scale=0.5)
    batch = sampler.windows(np.array([0, 1, 2]))
    p = [-0.5, -0.5]  # padded states: (0 - mean) / std
    expected = {
        "states": [[p, p, [0, 0.5], [1, 1.5], [2, 2.5]],
                   [p, p, p, [1, 1.5], [2, 2.5]],
                   [p, p, p, p, [2, 2.5]]],
        "next_states": [[p, p, [1, 1.5], [2, 2.5], [3, 3.5]],
                        [p, p, p, [2, 2.5], [3, 3.5]],
                        [p, p, p, p, [3, 3.5]]],
        "actions": [[[0], [0], [0.5], [-CLIP], [CLIP]],
                    [[0], [0], [0], [-CLIP], [CLIP]],
                    [[0], [0], [0], [0], [CLIP]]],
        "rewards": [[0, 0, 1, 2, 3], [0, 0, 0, 2, 3], [0, 0, 0, 0, 3]],
        "dones": [[2, 2, 0, 0, 1], [2, 2, 2, 0, 1], [2, 2, 2, 2, 1]],
        # K + 1 entries: suffix sums 6, 5, 3 from the start, 0 past the end, times 0.5.
        "rtg": [[0, 0, 3, 2.5, 1.5, 0], [0, 0, 0, 2.5, 1.5, 0], [0, 0, 0, 0, 1.5, 0]],
        "timesteps": [[0, 0, 0, 1, 2], [0, 0, 0, 1, 2], [0, 0, 0, 0, 2]],
        "mask": [[0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1]],
    }
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(batch, name), np.asarray(value, np.float64), rtol=0, atol=1e-7,
                                   err_msg=name)
    assert batch.states.dtype == np.float32 and batch.rtg.dtype == np.float32
    assert batch.timesteps.dtype == np.int32 and batch.mask.dtype == np.float32
    assert batch.states.shape == (3, 5, 2) and batch.rtg.shape == (3, 6) and batch.actions.shape == (3, 5, 1)


def reference_window(traj, si, K, mean, std, scale):
    """A direct per-sample transcription of the original's window construction (docs/design.md#segment-sampler)."""
    T = len(traj["rewards"])
    s = traj["observations"][si:si + K]
    tlen = len(s)
    rewards = traj["rewards"]
    suffix = np.array([rewards[j:].sum(dtype=np.float64) for j in range(si, T)])
    rtg = suffix[:tlen + 1]
    if len(rtg) <= tlen:
        rtg = np.concatenate([rtg, [0.0]])
    pad = K - tlen
    z = lambda width: np.zeros((pad, width))  # noqa: E731
    return {
        "states": (np.concatenate([z(s.shape[1]), s]) - mean) / std,
        "next_states": (np.concatenate([z(s.shape[1]), traj["next_observations"][si:si + K]]) - mean) / std,
        "actions": np.clip(np.concatenate([z(traj["actions"].shape[1]), traj["actions"][si:si + K]]), -CLIP, CLIP),
        "rewards": np.concatenate([np.zeros(pad), rewards[si:si + K]]),
        "dones": np.concatenate([np.full(pad, 2.0), traj["terminals"][si:si + K]]),
        "rtg": np.concatenate([np.zeros(pad), rtg]) * scale,
        "timesteps": np.concatenate([np.zeros(pad), np.minimum(np.arange(si, si + tlen), 999)]),
        "mask": np.concatenate([np.zeros(pad), np.ones(tlen)]),
    }


@pytest.mark.parametrize("use_buffer", [False, True])
def test_every_window_matches_per_sample_reference(use_buffer):
    rng = np.random.default_rng(3)
    trajs = random_trajs(rng, 25)
    K, scale = 7, 0.001
    mean, std = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    if use_buffer:  # a wrapped ring: the oldest are evicted and a new trajectory straddles the array end
        trajs = random_trajs(rng, 5, lengths=[40, 30, 30, 30, 30]) + trajs[5:20] + random_trajs(rng, 1, lengths=[12]) \
            + trajs[21:]
        source = ReplayBuffer(20, trajs[:20], spare_rows=5)
        source.add(trajs[20:21])  # evicts the 40-step trajectory; 5 rows at the end, 7 at the front
        source.add(trajs[21:])  # evicts four 30-step ones
        flat = source.flat
        assert flat.rows == sum(len(t["rewards"]) for t in trajs[:20]) + 5
        assert np.any(flat.starts + flat.lengths > flat.rows)
        kept = trajs[5:]
    else:
        source, kept = trajs, trajs
    sampler = SegmentSampler(source, context_len=K, state_mean=mean, state_std=std, reward_scale=scale)
    starts = [(i, si) for i, t in enumerate(kept) for si in range(len(t["rewards"]))]
    batch = sampler.windows(np.arange(len(starts)))  # logical index = traj offset + position, oldest first
    for b, (i, si) in enumerate(starts):
        ref = reference_window(kept[i], si, K, mean, std, scale)
        for name, value in ref.items():
            np.testing.assert_allclose(getattr(batch, name)[b].reshape(value.shape), value, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{name} traj {i} start {si}")


def test_rtg_is_hindsight_suffix_sum_and_timesteps_capped():
    T = 1010
    rewards = np.arange(T, dtype=np.float32) / 100
    traj = make_traj(np.zeros((T, 1)), np.zeros((T, 1)), rewards, np.zeros(T))
    sampler = SegmentSampler([traj], context_len=20, state_mean=np.zeros(1), state_std=np.ones(1), reward_scale=1.0)
    batch = sampler.windows(np.array([990, 100]))
    np.testing.assert_array_equal(batch.timesteps[0], np.minimum(np.arange(990, 1010), 999))
    np.testing.assert_allclose(batch.rtg[1], [rewards[j:].sum(dtype=np.float64) for j in range(100, 121)], rtol=1e-6)


def test_length_proportional_trajectories_and_uniform_start():
    lengths = [1, 5, 20, 74]
    trajs = [make_traj(np.zeros((T, 1)), np.zeros((T, 1)), np.zeros(T), np.zeros(T)) for T in lengths]
    flat = flatten_trajectories(trajs)
    sampler = SegmentSampler(flat, context_len=4, state_mean=np.zeros(1), state_std=np.ones(1), reward_scale=1.0)
    rng = np.random.default_rng(0)
    n = 200_000
    starts = sampler.draw_starts(rng, n)
    traj_of = np.searchsorted(np.cumsum(lengths), starts, side="right")
    freq = np.bincount(traj_of, minlength=4) / n
    np.testing.assert_allclose(freq, np.array(lengths) / sum(lengths), atol=0.005)
    pos = flat.positions[starts[traj_of == 3]]
    counts = np.bincount(pos, minlength=74)
    expected = len(pos) / 74
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 74 + 5 * np.sqrt(2 * 74)  # 73 dof: far inside a uniform start
    # Same seed, same batch: all randomness comes from the generator passed in.
    a = sampler.sample(np.random.default_rng(5), 64)
    b = sampler.sample(np.random.default_rng(5), 64)
    np.testing.assert_array_equal(a.timesteps, b.timesteps)


def test_action_clip_constant():
    assert ACTION_CLIP == CLIP
