"""What a run measures and how long each part may take: the GPU run and its CPU smoke twin.

The smoke profile walks the same code paths at tiny sizes, so a CPU proves the script before
the rare GPU minutes are spent on it. Size names are bench_step's ("default" is the paper's
d 512, 4 layers, 4 heads, K 20); the smoke profile maps them to tiny models.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

PAPER = "default"  # bench_step's name of the paper size: the seeds, rollout and projection size
# The order parts run in: the update table (the headline) and the iteration (the projection's main input) first.
PARTS = ("environment", "update", "iteration", "seeds", "rollout", "scan")


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    sizes: Optional[dict]  # size -> (embed_dim, n_layer, n_head, K) put into bench_step/bench_rollout; None: theirs
    batch_size: Optional[int]  # None: bench_step's (256, 32 at the dispatch size)
    update_cases: tuple  # (algo, size, compute_dtype)
    update_reps: int
    scan_cases: tuple  # (algo, size)
    scan_updates: int
    scan_reps: int
    seeds: int  # vmapped seeds, against one
    seed_updates: int
    seed_reps: int
    rollout_algos: tuple
    rollout_envs: tuple
    rollout_steps: int
    iteration: dict  # overrides of configs/mujoco.py:hopper-random (dotted names)
    budgets: dict  # part -> seconds
    total_s: float  # all parts together; the JSON is written even when it runs out
    platform: str  # a line for the markdown


_UPDATE_CASES = tuple((algo, size, dtype) for size, dtype in
                      (("default", "float32"), ("default", "bfloat16"), ("small", "float32"), ("dispatch", "float32"))
                      for algo in ("td3_odt", "odt"))
_SCAN_CASES = (("td3_odt", "dispatch"), ("td3_odt", "small"), ("td3_odt", "default"))
# Two online iterations: the first compiles the online rollout step and update, the second is
# the steady state (rollout, updates, then its evaluation and checkpoint, forced by the intervals).
_ITERATION = {"dataset.generate_if_missing": True, "log.progress_bar": False, "online.eval_interval": 2,
              "checkpoint.every_iters": 3}

GPU = Profile(
    name="gpu", sizes=None, batch_size=None, update_cases=_UPDATE_CASES, update_reps=20,
    scan_cases=_SCAN_CASES, scan_updates=20, scan_reps=3, seeds=5, seed_updates=10, seed_reps=3,
    rollout_algos=("td3_odt", "odt"), rollout_envs=(1, 10, 50), rollout_steps=200,
    iteration={**_ITERATION, "dataset.generate_num_steps": 20_000, "train.num_updates_per_pretrain_iter": 100},
    budgets={"environment": 60, "update": 150, "iteration": 180, "seeds": 60, "rollout": 80, "scan": 80},
    total_s=440, platform="accelerator, paper sizes")

TINY = (32, 1, 2, 4)
CPU_SMOKE = Profile(
    name="cpu-smoke", sizes={"default": TINY, "small": (16, 1, 1, 4), "dispatch": (16, 1, 1, 4)}, batch_size=8,
    # one case per algo, dtype and size path, not every combination: compiles dominate on CPU
    update_cases=(("td3_odt", "default", "float32"), ("odt", "default", "bfloat16"), ("td3_odt", "dispatch", "float32")),
    update_reps=2, scan_cases=(("td3_odt", "dispatch"),), scan_updates=3, scan_reps=1,
    seeds=5, seed_updates=2, seed_reps=1, rollout_algos=("td3_odt", "odt"), rollout_envs=(1, 10, 50),
    rollout_steps=5,
    iteration={**_ITERATION, "dataset.generate_num_steps": 400, "model.embed_dim": TINY[0], "model.n_layer": TINY[1],
               "model.n_head": TINY[2], "model.context_len": TINY[3], "model.eval_context_length": TINY[3],
               "train.batch_size": 8, "train.num_updates_per_pretrain_iter": 4, "train.num_updates_per_online_iter": 4,
               "train.updates_per_dispatch": 4, "online.num_eval_episodes": 2, "online.minimum_sapairs_per_iter": 20},
    budgets={part: 300 for part in PARTS}, total_s=1200,
    platform="CPU smoke run: tiny sizes, the code paths only (no timing here says anything about a GPU)")

PROFILES = {p.name: p for p in (GPU, CPU_SMOKE)}
