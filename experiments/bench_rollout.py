"""Action-selection benchmark: ms per environment step and compiles per rollout call.

For td3_odt and odt at the small and demo model sizes and 1, 10 and 50 lockstep halfcheetah
environments (halfcheetah never terminates, so every call steps every environment), one
rollout worker runs a collection rollout, a second one, and an evaluation rollout with the
same actor. The table gives the milliseconds of action selection (`time/rollout_act`: the
jitted call and its transfers) and of env stepping per lockstep step, and how many programs
each call traced and compiled (jax.monitoring events; a persistent-cache hit counts as a
compile). After the first collection call nothing should compile. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitamin_jax.agent import Learner  # noqa: E402
from vitamin_jax.configuration import load_config  # noqa: E402
from vitamin_jax.timing import CompileCounter, Timings  # noqa: E402

from bench_step import print_table  # noqa: E402  (this folder is on sys.path when run as a script)

SIZES = {"small": (128, 3, 4, 5), "demo": (64, 2, 4, 5), "default": (512, 4, 4, 20)}  # d, layers, heads, K
ENV, STATE_DIM, ACT_DIM = "halfcheetah-random", 17, 6


def make_worker(algo: str, size: str, num_envs: int, steps: int, explore: bool, timings: Timings):
    from vitamin_jax import envs
    from vitamin_jax.rollout import RolloutWorker

    d, layers, heads, k = SIZES[size]
    c = load_config("configs/base.py")
    c.algo = algo
    c.model.embed_dim, c.model.n_layer, c.model.n_head, c.model.context_len = d, layers, heads, k
    c.model.eval_context_length = k
    learner = Learner.from_config(c, STATE_DIM, ACT_DIM, critic_layer_norm=False)
    worker = RolloutWorker(
        lambda: envs.make_env(ENV), num_envs, learner.actor, context_len=k, eval_context_length=k,
        state_mean=np.zeros(STATE_DIM), state_std=np.ones(STATE_DIM), reward_scale=0.001,
        raw_reward=lambda r: r, max_episode_steps=steps, explore=explore, timings=timings)
    return learner, worker


def bench_case(counter: CompileCounter, algo: str, size: str, num_envs: int, steps: int) -> dict:
    timings = Timings()
    learner, collect = make_worker(algo, size, num_envs, steps, True, timings)
    _, evaluate = make_worker(algo, size, num_envs, steps, False, timings)
    params = learner.init(jax.random.PRNGKey(0)).actor_params
    calls = {}
    for name, worker, seed in (("first", collect, 0), ("second", collect, 1), ("eval", evaluate, 2), ("eval2", evaluate, 3)):
        timings.take()
        start = time.perf_counter()
        key = jax.random.PRNGKey(seed)
        with counter.counting():
            worker.run(params, 6000.0, seed=(seed,), key=key)
        traces, compiles = counter.traces, counter.compiles
        wall = time.perf_counter() - start
        sections = timings.take()
        calls[name] = {"traces": traces, "compiles": compiles, "wall_s": wall,
                       "act_ms_per_step": 1e3 * sections.get("rollout_act", 0.0) / steps,
                       "env_ms_per_step": 1e3 * sections.get("rollout_env", 0.0) / steps}
    collect.close()
    evaluate.close()
    second = calls["second"]
    return {"algo": algo, "size": size, "num_envs": num_envs, "steps": steps,
            "act_ms_per_step": second["act_ms_per_step"], "eval_act_ms_per_step": calls["eval2"]["act_ms_per_step"],
            "env_ms_per_step": second["env_ms_per_step"],
            "act_share": second["act_ms_per_step"] / (second["act_ms_per_step"] + second["env_ms_per_step"]),
            "compiles_first": calls["first"]["compiles"], "compiles_second": second["compiles"],
            "compiles_eval": calls["eval"]["compiles"], "compiles_eval2": calls["eval2"]["compiles"],
            "traces_second": second["traces"], "traces_eval2": calls["eval2"]["traces"]}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="td3_odt,odt")
    parser.add_argument("--sizes", default="small,demo")
    parser.add_argument("--envs", default="1,10,50")
    parser.add_argument("--steps", type=int, default=200, help="lockstep steps per rollout call")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    counter = CompileCounter()
    rows = [bench_case(counter, algo, size, int(n), args.steps)
            for size in args.sizes.split(",") for n in args.envs.split(",") for algo in args.algos.split(",")]
    for size in args.sizes.split(","):
        for n in args.envs.split(","):
            pair = {r["algo"]: r for r in rows if r["size"] == size and r["num_envs"] == int(n)}
            if {"odt", "td3_odt"} <= set(pair):
                for r in pair.values():
                    r["odt_over_td3_odt"] = pair["odt"]["act_ms_per_step"] / pair["td3_odt"]["act_ms_per_step"]
    columns = ["algo", "size", "num_envs", "act_ms_per_step", "eval_act_ms_per_step", "env_ms_per_step", "act_share",
               "compiles_first", "compiles_second", "compiles_eval", "compiles_eval2", "traces_second"]
    if all("odt_over_td3_odt" in r for r in rows):
        columns.append("odt_over_td3_odt")
    print(f"backend {jax.default_backend()}, jax {jax.__version__}")
    print_table(f"Action selection per lockstep step ({ENV}, {args.steps} steps per call; compiles per call: "
                "first collection, second collection, first and second evaluation)", rows, columns)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
