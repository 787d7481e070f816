"""Trajectory replay buffer: a FIFO ring over whole trajectories (docs/design.md#replay-buffer).

The original keeps a Python list of trajectories: it starts with the top-`capacity` offline
trajectories by return (ascending), appends and drops from the front while not full, and
once full overwrites from a moving start index. Both phases evict the oldest trajectory
first, so the buffer is a FIFO queue of at most `capacity` trajectories.

We store that queue as one ring of *transitions* (preallocated rows, grown by doubling when
needed): `add` writes only the new rows and evicts by moving the head, and the sampler
gathers windows from the ring with index arithmetic. Shapes only change when the ring
grows, which matters once the arrays live on an accelerator.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

TRAJECTORY_KEYS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")
DERIVED_KEYS = ("rtg", "positions", "remaining")
_VECTOR_KEYS = ("observations", "actions", "next_observations")
_MIN_HEADROOM = 4096  # spare rows beyond the initial fill, so the first online adds do not reallocate


def trajectory_return(traj: Mapping[str, np.ndarray]) -> float:
    """Undiscounted return, summed in float64 so orderings do not depend on dtype."""
    return float(np.sum(traj["rewards"], dtype=np.float64))


def as_trajectory(traj: Mapping[str, np.ndarray]) -> dict:
    """Canonical float32 trajectory with exactly TRAJECTORY_KEYS (extra keys are dropped).

    A missing `timeouts` becomes zeros; rollouts may carry extra keys such as raw rewards.
    """
    length = len(traj["rewards"])
    out = {}
    for key in TRAJECTORY_KEYS:
        if key == "timeouts" and key not in traj:
            value = np.zeros(length, np.float32)
        else:
            value = np.asarray(traj[key], np.float32)
        out[key] = value.reshape(length, -1) if key in _VECTOR_KEYS else value.reshape(length)
    return out


@dataclasses.dataclass(frozen=True)
class FlatTrajectories:
    """Transitions of a list of trajectories in a ring of R rows: logical index u lives at row (head + u) % R.

    A plain flattened list has head 0 and size R. Trajectories never overlap and are stored
    oldest first from `head`; one may wrap around the end of the arrays.

    Attributes:
      observations, next_observations: [R, S] float32.
      actions: [R, A] float32.
      rewards, terminals, timeouts: [R] float32.
      rtg: [R] float32, undiscounted suffix sum of rewards to the trajectory end (unscaled).
      positions: [R] int32, step index of each transition inside its trajectory.
      remaining: [R] int32, steps from each transition to its trajectory end (length - position).
      starts: [n] int64, row of each trajectory's first step; lengths: [n] int64.
      head, size: row of the oldest stored transition and number of stored transitions.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    rtg: np.ndarray
    positions: np.ndarray
    remaining: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    head: int = 0
    size: int = -1  # -1: all rows

    def __post_init__(self):
        if self.size < 0:
            object.__setattr__(self, "size", int(self.rewards.shape[0]))

    @property
    def rows(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def num_transitions(self) -> int:
        return int(self.size)

    @property
    def num_trajectories(self) -> int:
        return int(self.lengths.shape[0])

    def trajectory(self, i: int) -> dict:
        """Trajectory i (oldest first) as a dict of arrays (copies)."""
        rows = (int(self.starts[i]) + np.arange(int(self.lengths[i]))) % self.rows
        return {key: getattr(self, key)[rows] for key in TRAJECTORY_KEYS}

    def logical(self) -> dict:
        """All TRAJECTORY_KEYS arrays in logical order (oldest first), [size, ...] copies."""
        rows = (self.head + np.arange(self.size)) % self.rows
        return {key: getattr(self, key)[rows] for key in TRAJECTORY_KEYS}


def _concatenate(trajectories: Sequence[Mapping[str, np.ndarray]]) -> tuple[dict, np.ndarray]:
    trajs = [as_trajectory(t) for t in trajectories]
    lengths = np.array([len(t["rewards"]) for t in trajs], np.int64)
    if len(trajs) and np.any(lengths < 1):
        raise ValueError("trajectories must have at least one step")
    return {key: np.concatenate([t[key] for t in trajs], axis=0) for key in TRAJECTORY_KEYS}, lengths


def _derived(rewards: np.ndarray, lengths: np.ndarray) -> dict:
    """RTG suffix sums, positions and remaining steps of concatenated trajectories (vectorised)."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    traj_of = np.repeat(np.arange(len(lengths)), lengths)
    positions = np.arange(len(rewards)) - starts[traj_of]
    # One global reverse cumsum in float64; a trajectory's suffix sum is a difference of two entries.
    rev = np.concatenate([np.cumsum(rewards[::-1], dtype=np.float64)[::-1], [0.0]])
    rtg = rev[:-1] - rev[(starts + lengths)[traj_of]]
    return {"rtg": rtg.astype(np.float32), "positions": positions.astype(np.int32),
            "remaining": (lengths[traj_of] - positions).astype(np.int32)}


def flatten_trajectories(trajectories: Sequence[Mapping[str, np.ndarray]]) -> FlatTrajectories:
    """Concatenate trajectories and precompute what the sampler gathers from (RTG, positions)."""
    if not trajectories:
        raise ValueError("cannot flatten an empty trajectory list")
    columns, lengths = _concatenate(trajectories)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return FlatTrajectories(**columns, **_derived(columns["rewards"], lengths), starts=starts, lengths=lengths)


class ReplayBuffer:
    """FIFO queue of at most `capacity` trajectories, stored as a ring of transitions.

    Starts with the top-`capacity` trajectories by return in ascending return order, so the
    lowest-return offline trajectories are evicted first, then the oldest online ones.
    (With one trajectory per `add` this is the original exactly; with several at once the
    original's slice assignment could grow its list past capacity, we evict instead.)
    """

    def __init__(self, capacity: int, trajectories: Iterable[Mapping[str, np.ndarray]] = (), *,
                 spare_rows: Optional[int] = None):
        """spare_rows: ring rows beyond the initial fill (default max(N / 4, 4096))."""
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        trajs = list(trajectories)
        if len(trajs) > self.capacity:
            order = np.argsort([trajectory_return(t) for t in trajs], kind="stable")
            trajs = [trajs[i] for i in order[-self.capacity:]]
        self._store: dict[str, np.ndarray] = {}
        self._starts: collections.deque = collections.deque()
        self._lengths: collections.deque = collections.deque()
        self._head = 0
        self._size = 0
        self._flat: Optional[FlatTrajectories] = None
        self._written: list[np.ndarray] = []  # rows written since the last `take_written_rows`
        self._relaid = True  # the ring was (re)allocated since then: every row moved
        if trajs:
            columns, lengths = _concatenate(trajs)
            spare = max(int(lengths.sum()) // 4, _MIN_HEADROOM) if spare_rows is None else int(spare_rows)
            self._write(columns, lengths, headroom=spare)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._lengths)

    @property
    def num_transitions(self) -> int:
        return self._size

    @property
    def rows(self) -> int:
        """Allocated ring rows (>= num_transitions); changes only when the ring grows."""
        return int(self._store["rewards"].shape[0]) if self._store else 0

    @property
    def flat(self) -> FlatTrajectories:
        """A view of the ring (no copy) for the sampler; valid until the next `add`."""
        if self._size == 0:
            raise ValueError("the replay buffer is empty")
        if self._flat is None:
            self._flat = FlatTrajectories(
                **self._store, starts=np.array(self._starts, np.int64), lengths=np.array(self._lengths, np.int64),
                head=self._head, size=self._size)
        return self._flat

    @property
    def trajectories(self) -> list[dict]:
        """The stored trajectories, oldest first (copies; for inspection, not the hot path)."""
        if self._size == 0:
            return []
        flat = self.flat
        return [flat.trajectory(i) for i in range(flat.num_trajectories)]

    # ------------------------------------------------------------------ updates
    def add(self, new_trajectories: Iterable[Mapping[str, np.ndarray]]) -> None:
        """Append trajectories, evicting the oldest beyond `capacity` (FIFO)."""
        new = list(new_trajectories)[-self.capacity:]
        if not new:
            return
        for _ in range(max(0, len(self._lengths) + len(new) - self.capacity)):
            length = self._lengths.popleft()
            self._starts.popleft()
            self._size -= length
            self._head = (self._head + length) % self.rows if self._size else 0
        columns, lengths = _concatenate(new)
        self._write(columns, lengths)

    def _write(self, columns: dict, lengths: np.ndarray, headroom: int = 0) -> None:
        total = int(lengths.sum())
        values = {**columns, **_derived(columns["rewards"], lengths)}
        if self._size + total > self.rows:
            self._grow(max(self._size + total + headroom, 2 * self.rows), values)
        rows = (self._head + self._size + np.arange(total)) % self.rows
        for key, value in values.items():
            self._store[key][rows] = value
        if not self._relaid:
            self._written.append(rows)
            if sum(len(r) for r in self._written) > self.rows:  # no mirror is reading: stop collecting
                self._relaid, self._written = True, []
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self._starts.extend(((self._head + self._size + offsets) % self.rows).tolist())
        self._lengths.extend(lengths.tolist())
        self._size += total
        self._flat = None

    def _grow(self, rows: int, template: Mapping[str, np.ndarray]) -> None:
        """Reallocate to `rows` rows, moving the stored transitions to rows [0, size)."""
        new_store = {}
        order = (self._head + np.arange(self._size)) % max(self.rows, 1)
        for key, value in template.items():
            array = np.zeros((rows,) + value.shape[1:], value.dtype)
            if self._size:
                array[:self._size] = self._store[key][order]
            new_store[key] = array
        if self._size:
            self._starts = collections.deque(((np.array(self._starts, np.int64) - self._head) % self.rows).tolist())
        self._store, self._head, self._flat = new_store, 0, None
        self._relaid, self._written = True, []

    def take_written_rows(self) -> Optional[np.ndarray]:
        """Sorted ring rows written since the previous call, or None if the ring was reallocated.

        For a mirror of the ring (the device copy): None means copy everything; otherwise
        only these rows changed (head and size may have moved too). One mirror per buffer.
        """
        if self._relaid:
            self._relaid, self._written = False, []
            return None
        rows = np.unique(np.concatenate(self._written)) if self._written else np.zeros(0, np.int64)
        self._written = []
        return rows

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Plain NumPy arrays holding the whole state, oldest trajectory first (for checkpoints)."""
        if self._size == 0:
            raise ValueError("cannot save an empty replay buffer")
        state = self.flat.logical()
        state["lengths"] = np.array(self._lengths, np.int64)
        state["capacity"] = np.asarray(self.capacity, np.int64)
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> "ReplayBuffer":
        buffer = cls(int(np.asarray(state["capacity"])))
        columns = {key: np.asarray(state[key]) for key in TRAJECTORY_KEYS}
        lengths = np.asarray(state["lengths"], np.int64).reshape(-1)
        buffer._write(columns, lengths, headroom=max(int(lengths.sum()) // 4, _MIN_HEADROOM))
        return buffer
