"""The device copy of the online rings is updated in place, row for row, and samples as the host does."""

import jax
import numpy as np
import pytest

from vitamin_jax.data import batches, device_replay
from vitamin_jax.data.preprocess import OfflineData, summarize
from vitamin_jax.data.replay import ReplayBuffer
from vitamin_jax.data.sampler import SegmentSampler
from tests.test_device_sampler import A, K, S, random_trajectories


def run_replay(rng, num_seeds, replay_size, count=8):
    trajs = random_trajectories(rng, count)
    summary = summarize(trajs)
    data = OfflineData(trajs, rng.normal(size=S).astype(np.float32), rng.uniform(0.5, 2, S).astype(np.float32),
                       summary, summary, "test")
    return batches.RunReplay(data, num_seeds=num_seeds, replay_size=replay_size, context_len=K, reward_scale=0.5)


def test_written_rows_are_reported_once_and_growth_asks_for_a_full_copy():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(4, random_trajectories(rng, 4), spare_rows=30)
    assert buffer.take_written_rows() is None  # never mirrored: copy everything
    rows_before = buffer.rows
    tail = buffer.num_transitions
    new = random_trajectories(rng, 1)
    buffer.add(new)
    written = buffer.take_written_rows()
    np.testing.assert_array_equal(written, (tail + np.arange(len(new[0]["rewards"]))) % rows_before)
    assert buffer.take_written_rows().size == 0  # taken
    long = {k: np.concatenate([v] * 30) for k, v in new[0].items()}  # 30x the length: the ring must grow
    assert len(long["rewards"]) + buffer.num_transitions > rows_before
    buffer.add([long])
    assert buffer.rows > rows_before and buffer.take_written_rows() is None


@pytest.mark.parametrize("num_seeds", [1, 3])
def test_device_rings_equal_host_rings_after_every_add(monkeypatch, num_seeds):
    rng = np.random.default_rng(num_seeds)
    replay = run_replay(rng, num_seeds, replay_size=10)
    full_copies = []
    original = replay.device._stacked
    monkeypatch.setattr(replay.device, "_stacked",
                        lambda rings, capacity: full_copies.append(capacity) or original(rings, capacity))
    windows = jax.jit(device_replay.windows, static_argnums=2)
    for step in range(12):  # small adds wrap the rings; at step 6 one past the 4096 spare rows makes seed 0's grow
        for s in range(num_seeds):
            new = random_trajectories(rng, int(rng.integers(1, 4)))
            if step == 6 and s == 0:
                new.append({k: np.concatenate([v] * 5000) for k, v in random_trajectories(rng, 1, max_len=1)[0].items()})
            replay.add(s, new)
        arrays, axis = replay.device_replay("online")
        assert axis == 0
        for s, ring in enumerate(replay.replays):
            flat = ring.flat
            np.testing.assert_array_equal(np.asarray(arrays.ring_rows[s]), flat.rows)
            np.testing.assert_array_equal(np.asarray(arrays.head[s]), flat.head)
            np.testing.assert_array_equal(np.asarray(arrays.size[s]), flat.num_transitions)
            for key in device_replay.ROW_KEYS:
                np.testing.assert_array_equal(np.asarray(getattr(arrays, key)[s, :flat.rows]), getattr(flat, key),
                                              err_msg=f"step {step} seed {s} {key}")
            host = SegmentSampler(ring, context_len=K, state_mean=replay.state_mean, state_std=replay.state_std,
                                  reward_scale=replay.reward_scale)
            starts = rng.integers(0, flat.num_transitions, 256)  # one shape: one compile
            expected = host.windows(starts)
            one = jax.tree.map(lambda x: x[s], arrays)
            got = windows(one, starts, K)
            for field in expected.__dataclass_fields__:
                np.testing.assert_allclose(np.asarray(getattr(got, field)), getattr(expected, field), rtol=1e-6,
                                           atol=1e-6, err_msg=f"step {step} seed {s} {field}")
    # a full copy at the start and when seed 0's ring grew; every other call wrote rows only
    assert len(full_copies) == 2 and full_copies[1] > full_copies[0]
    assert arrays.observations.shape[1:] == (full_copies[-1], S) and arrays.actions.shape[2] == A


def test_a_restored_replay_is_copied_again():
    rng = np.random.default_rng(5)
    replay = run_replay(rng, 2, replay_size=6)
    for s in range(2):
        replay.add(s, random_trajectories(rng, 2))
    replay.device_replay("online")
    state = replay.state_dict()
    other = run_replay(np.random.default_rng(6), 2, replay_size=6)
    other.device_replay("online")
    other.load_state_dict(state)
    arrays, _ = other.device_replay("online")
    for s, ring in enumerate(other.replays):
        np.testing.assert_array_equal(np.asarray(arrays.observations[s, :ring.rows]), ring.flat.observations)
