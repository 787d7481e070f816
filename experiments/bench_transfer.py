"""Replay-to-device transfer per online iteration, by replay size: full copy vs incremental.

Each iteration adds one 1000-step trajectory to every seed's replay (evicting the oldest, as a
full buffer does online), then brings the device copy up to date. "full copy" is what every
iteration did before the incremental update: the whole ring to the device (stacked over
seeds). "incremental" is `RunReplay.device_replay('online')`: only the rows written since the
last call, scattered into the device rings with a fixed, padded shape. Medians over
iterations after a warm-up (compiles and the first full copy excluded), each ended with
`block_until_ready`. Prints a table; `--json FILE` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitamin_jax.data import batches, device_replay  # noqa: E402
from vitamin_jax.data.preprocess import OfflineData, summarize  # noqa: E402

STATE_DIM, ACT_DIM = 17, 6  # halfcheetah
EPISODE = 1000  # steps per added trajectory: one online iteration's minimum_sapairs_per_iter


def trajectory(rng: np.random.Generator, steps: int = EPISODE) -> dict:
    return {"observations": rng.normal(size=(steps, STATE_DIM)).astype(np.float32),
            "actions": rng.uniform(-1, 1, size=(steps, ACT_DIM)).astype(np.float32),
            "rewards": rng.normal(size=steps).astype(np.float32),
            "next_observations": rng.normal(size=(steps, STATE_DIM)).astype(np.float32),
            "terminals": np.zeros(steps, np.float32)}


def full_copy(replay: batches.RunReplay) -> device_replay.ReplayArrays:
    rings = [device_replay.host_arrays(r.flat, replay.state_mean, replay.state_std, replay.reward_scale) for r in replay.replays]
    return jax.device_put(jax.tree.map(lambda *xs: np.stack(xs), *rings))


def measure(transitions: int, num_seeds: int, iters: int, warmup: int, rng: np.random.Generator) -> dict:
    trajs = [trajectory(rng) for _ in range(transitions // EPISODE)]
    summary = summarize(trajs[:1])
    data = OfflineData(trajs, np.zeros(STATE_DIM, np.float32), np.ones(STATE_DIM, np.float32), summary, summary, "bench")
    replay = batches.RunReplay(data, num_seeds=num_seeds, replay_size=len(trajs), context_len=5, reward_scale=1.0)
    times = {}
    # one method after the other, so neither pays for the other's allocations
    for name, fn in (("incremental", lambda: replay.device_replay("online")[0]), ("full copy", lambda: full_copy(replay))):
        times[name] = []
        for i in range(warmup + iters):
            for s in range(num_seeds):
                replay.add(s, [trajectory(rng)])
            start = time.perf_counter()
            jax.block_until_ready(fn())
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    mb = sum(np.asarray(x).nbytes for x in jax.tree.leaves(full_copy(replay))) / 1e6
    return {"transitions": transitions, "seeds": num_seeds, "ring_mb": mb,
            **{name: 1e3 * float(np.median(t)) for name, t in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="replay sizes in transitions")
    parser.add_argument("--seeds", default="1", help="seeds per run (comma list)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", default="", help="also write the rows to this file")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = [measure(int(n), int(s), args.iters, args.warmup, rng)
            for s in args.seeds.split(",") for n in args.sizes.split(",")]
    print(f"# {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; +{EPISODE} transitions per seed per iteration")
    print("| replay transitions | seeds | ring MB | full copy ms/iter | incremental ms/iter | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['transitions']:,} | {r['seeds']} | {r['ring_mb']:.0f} | {r['full copy']:.2f} | "
              f"{r['incremental']:.2f} | {r['full copy'] / r['incremental']:.1f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
