"""Where an iteration's wall time goes: named sections summed per iteration.

Each run logs, per iteration, the seconds of: rollout env stepping and action selection,
the replay copy to the device, the updates (dispatch to `block_until_ready`), evaluation,
checkpointing and logging, as `time/<section>` scalars in scalars.jsonl and tensorboard
(logged after the checkpoint); an evaluation record in metrics.jsonl carries the sections
measured before it (all but that iteration's checkpoint and logging).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

SECTIONS = ("rollout_env", "rollout_act", "replay_transfer", "updates", "evaluation", "checkpoint", "logging")


class Timings:
    """Seconds and counts per section since the last `take`."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)  # env steps, updates

    @contextlib.contextmanager
    def section(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def count(self, name: str, n: int) -> None:
        self.counts[name] += int(n)

    def seconds_so_far(self) -> dict[str, float]:
        """Seconds per section measured so far, in `SECTIONS` order."""
        return {name: float(self.seconds[name]) for name in SECTIONS if name in self.seconds}

    def take(self) -> dict[str, float]:
        """`seconds_so_far()`, then reset for the next iteration."""
        out = self.seconds_so_far()
        self.seconds.clear()
        self.counts.clear()
        return out

    def rate(self, count: str, *sections: str) -> float:
        """`count` per second of the given sections (0 when nothing was timed)."""
        seconds = sum(self.seconds.get(s, 0.0) for s in sections)
        return self.counts.get(count, 0) / seconds if seconds > 0 else 0.0


class CompileCounter:
    """Programs traced and compiled while `counting()` is active (jax.monitoring events).

    A persistent-cache hit counts as a compile: the program was not yet in memory. Used by
    experiments/bench_rollout.py and the tests that prove a rollout call compiles nothing.
    """

    TRACE = "/jax/core/compile/jaxpr_trace_duration"
    COMPILE = ("/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_retrieval_time_sec")

    def __init__(self):
        import jax

        self.traces = self.compiles = 0
        self._active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event: str, duration: float, **_) -> None:
        if self._active:
            self.traces += event == self.TRACE
            self.compiles += event in self.COMPILE

    @contextlib.contextmanager
    def counting(self):
        self.traces = self.compiles = 0
        self._active = True
        try:
            yield self
        finally:
            self._active = False
