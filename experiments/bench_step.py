"""Step-time benchmark: compiled update cost of ODT and TD3+ODT, fused vs per-update dispatch.

Prints a table and optionally writes JSON (`--json FILE`). Timings are medians of repeated
calls after warm-up, each ended with `block_until_ready`. FLOP per update come from XLA's
cost analysis of the compiled single-update step. Run with `make bench`.
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

from vitamin_jax.agent import Learner  # noqa: E402
from vitamin_jax.algorithms import phase_coefficients  # noqa: E402
from vitamin_jax.configuration import load_config  # noqa: E402
from vitamin_jax.types import Batch  # noqa: E402

SIZES = {  # name: (embed_dim, n_layer, n_head, K)
    "default": (512, 4, 4, 20),
    "small": (128, 3, 4, 5),
}
STATE_DIM, ACT_DIM = 17, 6  # halfcheetah


def make_config(algo: str, size: str, batch_size: int):
    d, layers, heads, k = SIZES[size]
    c = load_config("configs/base.py")
    c.algo = algo
    c.model.embed_dim, c.model.n_layer, c.model.n_head, c.model.context_len = d, layers, heads, k
    c.train.batch_size = batch_size
    return c


def random_batches(leading: tuple, batch_size: int, k: int, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    shape = leading + (batch_size, k)
    normal = lambda *extra: rng.normal(size=shape + extra).astype(np.float32)
    return Batch(
        states=normal(STATE_DIM), actions=np.tanh(normal(ACT_DIM)), next_states=normal(STATE_DIM),
        rewards=normal(), dones=np.zeros(shape, np.float32), rtg=rng.normal(size=shape[:-1] + (k + 1,)).astype(np.float32),
        timesteps=np.broadcast_to(np.arange(k, dtype=np.int32), shape).copy(), mask=np.ones(shape, np.float32),
    )


def timed(fn, reps: int) -> np.ndarray:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return np.array(times)


def bench_update(algo: str, size: str, batch_size: int, reps: int) -> dict:
    """Compile time, ms per update and FLOP of one jitted update (one actor update)."""
    config = make_config(algo, size, batch_size)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    state = learner.init(jax.random.PRNGKey(0))
    batches = jax.device_put(random_batches((learner.actor_update_interval,), batch_size, config.model.context_len))
    coeffs = phase_coefficients(config, "online")
    start = time.perf_counter()
    compiled = jax.jit(learner.update).lower(state, batches, coeffs).compile()
    compile_s = time.perf_counter() - start
    flops = float((compiled.cost_analysis() or {}).get("flops", float("nan")))
    holder = {"state": compiled(state, batches, coeffs)[0]}  # warm-up

    def step():
        holder["state"], metrics = compiled(holder["state"], batches, coeffs)
        return holder["state"]

    times = timed(step, reps) * 1000
    median_s = np.median(times) / 1000
    return {
        "algo": algo, "size": size, "batch_size": batch_size, "compile_s": compile_s,
        "ms_median": float(np.median(times)), "ms_min": float(times.min()), "ms_max": float(times.max()),
        "updates_per_s": 1.0 / median_s, "gflop_per_update": flops / 1e9, "tflop_per_s": flops / median_s / 1e12,
    }


def bench_scan_vs_dispatch(algo: str, size: str, batch_size: int, num_updates: int, reps: int) -> dict:
    """U updates as U jitted calls vs one lax.scan call (batches already on device)."""
    config = make_config(algo, size, batch_size)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    state = learner.init(jax.random.PRNGKey(0))
    interval = learner.actor_update_interval
    stacked = jax.device_put(random_batches((num_updates, interval), batch_size, config.model.context_len))
    singles = [jax.tree.map(lambda x: x[u], stacked) for u in range(num_updates)]
    coeffs = phase_coefficients(config, "online")
    update, update_many = jax.jit(learner.update), jax.jit(learner.update_many)
    jax.block_until_ready(update(state, singles[0], coeffs))
    jax.block_until_ready(update_many(state, stacked, coeffs))

    def per_update():
        s = state
        for batch in singles:
            s, _ = update(s, batch, coeffs)
        return s

    dispatch = np.median(timed(per_update, reps))
    scanned = np.median(timed(lambda: update_many(state, stacked, coeffs)[0], reps))
    return {
        "algo": algo, "size": size, "num_updates": num_updates,
        "ms_per_update_dispatch": 1000 * dispatch / num_updates, "ms_per_update_scan": 1000 * scanned / num_updates,
        "speedup": dispatch / scanned,
    }


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)
    widths = [max(len(c), *(len(fmt(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(fmt(r[c]).ljust(w) for c, w in zip(columns, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", default=None, help="write results to this JSON file")
    parser.add_argument("--algos", default="odt,td3_odt")
    parser.add_argument("--sizes", default="default,small")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=0, help="timed calls per case (0: 3 on CPU for default size)")
    parser.add_argument("--scan-updates", type=int, default=20)
    args = parser.parse_args()

    backend = jax.default_backend()
    device = jax.devices()[0].device_kind
    print(f"backend {backend} ({device}), {jax.device_count()} device(s), jax {jax.__version__}, {platform.node()}")
    results = {"backend": backend, "device": device, "jax": jax.__version__, "update": [], "scan": []}
    for size in args.sizes.split(","):
        for algo in args.algos.split(","):
            reps = args.reps or (3 if backend == "cpu" and size == "default" else 20)
            results["update"].append(bench_update(algo, size, args.batch_size, reps))
    print_table("Compiled update (one actor update; TD3+ODT includes 2 critic steps)", results["update"],
                ["algo", "size", "batch_size", "compile_s", "ms_median", "ms_min", "ms_max", "updates_per_s",
                 "gflop_per_update", "tflop_per_s"])
    scan_size = "small" if backend == "cpu" else "default"
    for algo in args.algos.split(","):
        results["scan"].append(bench_scan_vs_dispatch(algo, scan_size, args.batch_size, args.scan_updates, 3))
    print_table("Fused lax.scan vs one dispatch per update", results["scan"],
                ["algo", "size", "num_updates", "ms_per_update_dispatch", "ms_per_update_scan", "speedup"])
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
