"""Replay buffer: top-by-return fill, FIFO ring semantics, growth, state_dict round trip."""

import numpy as np
import pytest

from vitamin_jax.data.replay import ReplayBuffer, flatten_trajectories


def traj(tag, length=2, ret=None):
    """A trajectory whose observations hold `tag`, so tests can tell trajectories apart."""
    rewards = np.full(length, (tag if ret is None else ret) / length, np.float32)
    return {
        "observations": np.full((length, 2), tag, np.float32),
        "next_observations": np.full((length, 2), tag + 0.5, np.float32),
        "actions": np.zeros((length, 1), np.float32),
        "rewards": rewards,
        "terminals": np.eye(1, length, length - 1, dtype=np.float32)[0],
        "timeouts": np.zeros(length, np.float32),
        "raw_rewards": rewards * 100,  # extra keys (as rollouts carry) are dropped
    }


def tags(buffer):
    return [int(t["observations"][0, 0]) for t in buffer.trajectories]


def test_initial_fill_keeps_top_by_return_in_ascending_order():
    trajs = [traj(i, ret=r) for i, r in enumerate([5.0, 1.0, 9.0, 3.0, 7.0])]
    buffer = ReplayBuffer(3, trajs)
    assert tags(buffer) == [0, 4, 2]  # top three returns 5, 7, 9 (tags 0, 4, 2), ascending
    assert [float(t["rewards"].sum()) for t in buffer.trajectories] == [5.0, 7.0, 9.0]
    assert set(buffer.trajectories[0]) == {"observations", "next_observations", "actions", "rewards",
                                           "terminals", "timeouts"}
    small = ReplayBuffer(10, trajs)  # not full: everything, in the given order
    assert tags(small) == [0, 1, 2, 3, 4]


def test_fifo_ring_semantics():
    buffer = ReplayBuffer(4, [traj(i) for i in range(3)], spare_rows=0)  # ascending returns 0, 1, 2
    buffer.add([traj(10)])  # not full yet: append
    assert tags(buffer) == [0, 1, 2, 10]
    buffer.add([traj(11)])  # full: the oldest (lowest-return offline) goes first
    assert tags(buffer) == [1, 2, 10, 11]
    buffer.add([traj(12), traj(13)])
    assert tags(buffer) == [10, 11, 12, 13]
    buffer.add([traj(20 + i) for i in range(6)])  # more than capacity at once: the last 4
    assert tags(buffer) == [22, 23, 24, 25]
    assert len(buffer) == 4 and buffer.num_transitions == 8


def test_variable_lengths_wrap_and_grow():
    buffer = ReplayBuffer(3, [traj(1, 4), traj(2, 4), traj(3, 4)], spare_rows=2)  # 14 rows
    assert buffer.rows == 14
    buffer.add([traj(4, 6)])  # evict 4 rows; 6 new rows: 2 at the end, 4 at the front
    assert buffer.rows == 14 and tags(buffer) == [2, 3, 4]
    flat = buffer.flat
    assert flat.head == 4 and np.any(flat.starts + flat.lengths > flat.rows)
    np.testing.assert_array_equal(buffer.trajectories[2]["observations"], np.full((6, 2), 4.0))
    buffer.add([traj(5, 20)])  # needs more rows than the ring has: it grows, order kept
    assert buffer.rows >= 26 and tags(buffer) == [3, 4, 5]
    assert buffer.num_transitions == 4 + 6 + 20
    rtg = buffer.flat.rtg[buffer.flat.starts[2]]
    assert rtg == pytest.approx(5.0)  # suffix sum from the first step = the return


def test_state_dict_round_trip():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(5, [traj(i, int(rng.integers(1, 6))) for i in range(5)], spare_rows=1)
    buffer.add([traj(7, 3), traj(8, 2)])
    state = buffer.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    restored = ReplayBuffer.from_state_dict({k: v.copy() for k, v in state.items()})
    assert tags(restored) == tags(buffer) and restored.capacity == 5
    for a, b in zip(buffer.trajectories, restored.trajectories):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    restored.add([traj(9)])  # ring behaviour continues after a restore
    buffer.add([traj(9)])
    assert tags(restored) == tags(buffer)


def test_flatten_precomputes_rtg_and_positions():
    flat = flatten_trajectories([traj(3, 3), traj(4, 2)])
    np.testing.assert_allclose(flat.rtg, [3, 2, 1, 4, 2])
    np.testing.assert_array_equal(flat.positions, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(flat.remaining, [3, 2, 1, 2, 1])
    np.testing.assert_array_equal(flat.starts, [0, 3])
