"""What `online.async_collect` saves per online iteration: the demo's hopper-random schedule, both ways.

Each case is a real run (train_and_evaluate) of the demo config (configs/demo.py, d 64) on a
small generated hopper-random set: pretraining, then `--iterations` online iterations of
>= 1000 transitions and 300 updates, one evaluation episode after each (so every iteration
has a wall-clock reading) and no checkpoint until the end (a checkpoint pauses the overlap).
The table gives the median wall seconds per online iteration (the first one, which
compiles, left out) and the mean `time/*` sections. Usage:
    python experiments/bench_async.py [--iterations 6] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vitamin_jax.configuration import load_config  # noqa: E402
from vitamin_jax.logger import read_metrics  # noqa: E402
from vitamin_jax.train import train_and_evaluate  # noqa: E402

SECTIONS = ("rollout_act", "rollout_env", "updates", "evaluation")


def run_case(root: str, async_collect: bool, iterations: int) -> dict:
    c = load_config("configs/demo.py:hopper-random")
    c.dataset.generate_num_steps = 20_000
    c.train.num_updates_per_pretrain_iter = 100
    c.online.max_online_transitions = 1000 * iterations
    c.online.eval_interval = 1
    c.online.num_eval_episodes = 1
    c.checkpoint.every_iters = 10 * iterations
    c.online.async_collect = async_collect
    c.log.progress_bar = False
    workdir = os.path.join(root, f"async_{async_collect}")
    train_and_evaluate(c, workdir)
    online = [r for r in read_metrics(workdir) if r["phase"] == "online"]
    walls = np.diff([r["wall_time"] for r in online])  # from the 2nd online iteration on
    with open(os.path.join(workdir, "scalars.jsonl")) as f:
        points = [json.loads(line) for line in f]
    sections = {s: float(np.mean([p["value"] for p in points if p.get("tag") == f"time/{s}"][2:] or [np.nan]))
                for s in SECTIONS}
    return {"async_collect": async_collect, "iterations": len(online), "s_per_iteration": float(np.median(walls)),
            **{f"{s}_s": v for s, v in sections.items()}, "final_score": online[-1]["normalized_score"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-async-") as root:
        os.environ.setdefault("MINARI_DATASETS_PATH", os.path.join(root, "minari"))
        rows = [run_case(root, flag, args.iterations) for flag in (False, True)]
    print("| async_collect | s / online iteration (median) | rollout_act s | rollout_env s | updates s | "
          "evaluation s | final score |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['async_collect']} | {r['s_per_iteration']:.2f} | {r['rollout_act_s']:.2f} | "
              f"{r['rollout_env_s']:.2f} | {r['updates_s']:.2f} | {r['evaluation_s']:.2f} | {r['final_score']:.2f} |")
    print(f"saved per iteration: {rows[0]['s_per_iteration'] - rows[1]['s_per_iteration']:.2f} s "
          f"({rows[0]['s_per_iteration'] / rows[1]['s_per_iteration']:.2f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
