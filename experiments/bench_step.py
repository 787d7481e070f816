"""Step-time benchmark: compiled update cost of ODT and TD3+ODT, fused vs per-update dispatch.

Prints a table and optionally writes JSON (`--json FILE`). Timings are medians of repeated
calls after warm-up, each ended with `block_until_ready`. FLOP per update come from XLA's
cost analysis of the compiled single-update step. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    "dispatch": (64, 1, 1, 5),  # so small that per-update Python dispatch shows, even on CPU
}
SIZE_BATCH = {"dispatch": 32}  # batch per size where it is not --batch-size
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


def bench_update(algo: str, size: str, batch_size: int, reps: int, prune_last_block: bool = True) -> dict:
    """Compile time, ms per update and FLOP of one jitted update (one actor update).

    `prune_last_block=False` times the actor as it was before its last block computed the
    state tokens only (vitamin_jax/networks/transformer.py), for before/after tables."""
    config = make_config(algo, size, batch_size)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    learner = dataclasses.replace(learner, actor=learner.actor.clone(prune_last_block=prune_last_block))
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
        "times_ms": [float(t) for t in times],
        "updates_per_s": 1.0 / median_s, "gflop_per_update": flops / 1e9, "tflop_per_s": flops / median_s / 1e12,
        # the same for every case with the same reps: tells a flag that changes the arithmetic
        "actor_checksum": float(sum(np.abs(np.asarray(x, np.float64)).sum()
                                    for x in jax.tree.leaves(holder["state"].actor_params))),
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
        "algo": algo, "size": size, "batch_size": batch_size, "num_updates": num_updates,
        "ms_per_update_dispatch": 1000 * dispatch / num_updates, "ms_per_update_scan": 1000 * scanned / num_updates,
        "speedup": dispatch / scanned,
    }


def bench_seeds(algo: str, size: str, batch_size: int, num_seeds: int, num_updates: int, reps: int) -> dict:
    """Total updates/s: S seeds vmapped in one call vs S separate single-seed runs (one after another)."""
    config = make_config(algo, size, batch_size)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    coeffs = phase_coefficients(config, "online")
    interval, k = learner.actor_update_interval, config.model.context_len
    single_state = learner.init(jax.random.PRNGKey(0))
    states = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), num_seeds))
    single_batches = jax.device_put(random_batches((num_updates, interval), batch_size, k))
    group_batches = jax.device_put(random_batches((num_seeds, num_updates, interval), batch_size, k))
    single = jax.jit(learner.update_many)
    group = jax.jit(jax.vmap(learner.update_many, in_axes=(0, 0, None)))
    jax.block_until_ready(single(single_state, single_batches, coeffs))
    jax.block_until_ready(group(states, group_batches, coeffs))
    t_single = np.median(timed(lambda: single(single_state, single_batches, coeffs)[0], reps))
    t_group = np.median(timed(lambda: group(states, group_batches, coeffs)[0], reps))
    return {"algo": algo, "size": size, "num_seeds": num_seeds, "num_updates": num_updates,
            "separate_updates_per_s": num_updates / t_single, "vmapped_updates_per_s": num_seeds * num_updates / t_group,
            "ratio": num_seeds * t_single / t_group}


def bench_samplers(algo: str, size: str, batch_size: int, num_updates: int, reps: int) -> dict:
    """One iteration's updates fed by the NumPy host sampler vs sampled on device in the scan."""
    from vitamin_jax.data import device_replay as device_sampler
    from vitamin_jax.data.replay import ReplayBuffer
    from vitamin_jax.data.sampler import SegmentSampler
    from vitamin_jax.updates import sampled_updates

    config = make_config(algo, size, batch_size)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    state = learner.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    trajs = [{"observations": rng.normal(size=(1000, STATE_DIM)).astype(np.float32),
              "actions": rng.uniform(-1, 1, (1000, ACT_DIM)).astype(np.float32),
              "rewards": rng.normal(size=1000).astype(np.float32),
              "next_observations": rng.normal(size=(1000, STATE_DIM)).astype(np.float32),
              "terminals": np.eye(1000, dtype=np.float32)[-1]} for _ in range(200)]  # 200K transitions
    buffer = ReplayBuffer(1000, trajs)
    mean, std = np.zeros(STATE_DIM, np.float32), np.ones(STATE_DIM, np.float32)
    sampler = SegmentSampler(buffer, context_len=config.model.context_len, state_mean=mean, state_std=std,
                             reward_scale=0.001)
    coeffs = phase_coefficients(config, "online")
    interval = learner.actor_update_interval
    update_many = jax.jit(learner.update_many)
    on_device = jax.jit(sampled_updates(learner, batch_size), static_argnums=(4,))

    def host_path():
        flat = sampler.sample(rng, num_updates * interval * batch_size)
        batches = jax.tree.map(lambda x: x.reshape((num_updates, interval, batch_size) + x.shape[1:]), flat)
        return update_many(state, batches, coeffs)[0]

    def device_path():  # includes copying the ring to the device, as once per training iteration
        replay = device_sampler.to_device(buffer.flat, mean, std, 0.001)
        return on_device(state, replay, jax.random.PRNGKey(1), coeffs, num_updates)[0]

    jax.block_until_ready(host_path())
    jax.block_until_ready(device_path())
    host = np.median(timed(host_path, reps))
    device = np.median(timed(device_path, reps))
    return {"algo": algo, "size": size, "num_updates": num_updates, "ms_per_update_host_sampler": 1000 * host / num_updates,
            "ms_per_update_device_sampler": 1000 * device / num_updates, "device_speedup": host / device}


def bench_rollout(num_envs: int, steps: int) -> dict:
    """Env steps/s of lockstep halfcheetah rollouts with one jitted batched action call (small model)."""
    from vitamin_jax import envs
    from vitamin_jax.rollout import RolloutWorker

    config = make_config("td3_odt", "small", 256)
    learner = Learner.from_config(config, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    params = learner.init(jax.random.PRNGKey(0)).actor_params
    worker = RolloutWorker(
        lambda: envs.make_env("halfcheetah-random"), num_envs, learner.actor, context_len=config.model.context_len,
        eval_context_length=config.model.eval_context_length, state_mean=np.zeros(STATE_DIM),
        state_std=np.ones(STATE_DIM), reward_scale=0.001, raw_reward=lambda r: r, max_episode_steps=steps,
        explore=True)
    worker.run(params, 6000.0, seed=(0,), key=jax.random.PRNGKey(0))  # compile
    start = time.perf_counter()
    result = worker.run(params, 6000.0, seed=(1,), key=jax.random.PRNGKey(1))
    elapsed = time.perf_counter() - start
    worker.close()
    return {"num_envs": num_envs, "env_steps": result.num_transitions, "seconds": elapsed,
            "env_steps_per_s": result.num_transitions / elapsed, "action_calls_per_s": steps / elapsed}


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
    parser.add_argument("--rollout-steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--scan-sizes", default="",
                        help="sizes of the scan-vs-dispatch table (default: dispatch,small,default; on CPU the "
                             "default size runs 4 updates once)")
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
    for size in (args.scan_sizes or "dispatch,small,default").split(","):
        slow = backend == "cpu" and size == "default"
        for algo in args.algos.split(","):
            results["scan"].append(bench_scan_vs_dispatch(algo, size, SIZE_BATCH.get(size, args.batch_size),
                                                          4 if slow else args.scan_updates, 1 if slow else 3))
    print_table("Fused lax.scan vs one dispatch per update", results["scan"],
                ["algo", "size", "batch_size", "num_updates", "ms_per_update_dispatch", "ms_per_update_scan",
                 "speedup"])
    results["seeds"] = [bench_seeds("td3_odt", scan_size, args.batch_size, args.seeds, args.scan_updates // 2, 3)]
    print_table(f"{args.seeds} seeds vmapped in one process vs separate runs (total updates/s)", results["seeds"],
                ["algo", "size", "num_seeds", "num_updates", "separate_updates_per_s", "vmapped_updates_per_s", "ratio"])
    results["sampler"] = [bench_samplers("td3_odt", scan_size, args.batch_size, args.scan_updates, 3)]
    print_table("Host NumPy sampler vs on-device sampling inside the scan (200K-transition replay)",
                results["sampler"], ["algo", "size", "num_updates", "ms_per_update_host_sampler",
                                     "ms_per_update_device_sampler", "device_speedup"])
    results["rollout"] = [bench_rollout(n, args.rollout_steps) for n in (1, 10, 50)]
    print_table(f"Rollout throughput (halfcheetah, small model, {args.rollout_steps} lockstep steps)",
                results["rollout"], ["num_envs", "env_steps", "seconds", "env_steps_per_s", "action_calls_per_s"])
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
