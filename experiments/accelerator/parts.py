"""The measurements, one function per part; bench.py runs each in its own process.

`python parts.py PART PROFILE RESULT.json` writes the part's result, rewritten after every
row, so a part killed at its budget still leaves the rows it finished. The update, scan and
seed figures are experiments/bench_step.py's functions, the rollout ones
experiments/bench_rollout.py's `bench_case`, the iteration is `train_and_evaluate` itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[1:1] = [ROOT, os.path.join(ROOT, "experiments")]

import jax  # noqa: E402

import peaks  # noqa: E402
from vitamin_jax.atomic import atomic_write  # noqa: E402
from profiles import PAPER, PROFILES, Profile  # noqa: E402

PRESET = "configs/mujoco.py:hopper-random"


class Result(dict):
    """A part's result, written atomically to `path` on every `save`."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self, indent=2))


def use_sizes(profile: Profile, *modules) -> None:
    """Give the benchmark modules the profile's model sizes (theirs are the paper's and bench_step's)."""
    if profile.sizes:
        for module in modules:
            module.SIZES.update(profile.sizes)


def batch_size(profile: Profile, size: str) -> int:
    import bench_step

    return profile.batch_size or bench_step.SIZE_BATCH.get(size, 256)


def dims(size: str) -> dict:
    import bench_step

    d, layers, heads, k = bench_step.SIZES[size]
    return {"embed_dim": d, "n_layer": layers, "n_head": heads, "context_len": k}


@contextlib.contextmanager
def compute_dtype(dtype: str):
    """bench_step's functions take no dtype: they build their config with the module's
    `make_config`, so wrapping that sets `model.compute_dtype` without copying them."""
    import bench_step

    original = bench_step.make_config

    def make_config(*args, **kwargs):
        config = original(*args, **kwargs)
        config.model.compute_dtype = dtype
        return config

    bench_step.make_config = make_config
    try:
        yield
    finally:
        bench_step.make_config = original


# ---------------------------------------------------------------------------- the parts
def environment(profile: Profile, result: Result) -> None:
    """What ran: backend, chip, versions, the peak used for the fraction of peak."""
    import jaxlib

    kind = jax.devices()[0].device_kind
    result.update(backend=jax.default_backend(), device_kind=kind, device_count=jax.device_count(),
                  jax=jax.__version__, jaxlib=jaxlib.__version__, python=platform.python_version(),
                  default_matmul_precision=str(jax.config.jax_default_matmul_precision),
                  peak=peaks.lookup(kind) if jax.default_backend() == "gpu" else None)


def update(profile: Profile, result: Result) -> None:
    """Compile s, ms/update, updates/s, TFLOP/s and fraction of peak of one jitted update."""
    import bench_step

    use_sizes(profile, bench_step)
    peak = peaks.lookup(jax.devices()[0].device_kind) if jax.default_backend() == "gpu" else None
    rows = result["rows"] = []
    for algo, size, dtype in profile.update_cases:
        with compute_dtype(dtype):
            row = bench_step.bench_update(algo, size, batch_size(profile, size), profile.update_reps)
        rows.append({**row, "compute_dtype": dtype, **dims(size), **peaks.fraction(peak, dtype, row["tflop_per_s"])})
        result.save()


def scan(profile: Profile, result: Result) -> None:
    """U updates as U dispatches vs one lax.scan call."""
    import bench_step

    use_sizes(profile, bench_step)
    rows = result["rows"] = []
    for algo, size in profile.scan_cases:
        rows.append({**bench_step.bench_scan_vs_dispatch(algo, size, batch_size(profile, size), profile.scan_updates,
                                                         profile.scan_reps), **dims(size)})
        result.save()


def seeds(profile: Profile, result: Result) -> None:
    """Total updates/s of S vmapped seeds against one seed at a time (paper size)."""
    import bench_step

    use_sizes(profile, bench_step)
    row = bench_step.bench_seeds("td3_odt", PAPER, batch_size(profile, PAPER), profile.seeds, profile.seed_updates,
                                 profile.seed_reps)
    result["rows"] = [{**row, "batch_size": batch_size(profile, PAPER), **dims(PAPER)}]


def rollout(profile: Profile, result: Result) -> None:
    """Env steps/s and action-selection ms per lockstep step for 1, 10, 50 environments (paper size)."""
    import bench_rollout
    import bench_step
    from vitamin_jax.timing import CompileCounter

    use_sizes(profile, bench_step, bench_rollout)
    counter = CompileCounter()
    rows = result["rows"] = []
    for algo in profile.rollout_algos:
        for num_envs in profile.rollout_envs:
            row = bench_rollout.bench_case(counter, algo, PAPER, num_envs, profile.rollout_steps)
            per_step_ms = row["act_ms_per_step"] + row["env_ms_per_step"]
            rows.append({**row, **dims(PAPER), "env_steps_per_s": 1e3 * num_envs / per_step_ms})
            result.save()


def iteration(profile: Profile, result: Result) -> None:
    """Pretraining, then two online iterations of hopper-random on a generated dataset, by time/* section."""
    scratch = tempfile.mkdtemp(prefix="iteration-")  # in bench.py's TMPDIR: checkpoints stay out of OUT
    os.environ["MINARI_DATASETS_PATH"] = os.path.join(scratch, "minari")
    from vitamin_jax import envs
    from vitamin_jax.configuration import load_config
    from vitamin_jax.data.generate import generate_if_missing
    from vitamin_jax.logger import METRICS_FILE, SCALARS_FILE
    from vitamin_jax.train import train_and_evaluate

    cell = load_config(PRESET)
    config = load_config(PRESET)
    config.update_from_flattened_dict(profile.iteration)
    workdir = os.path.join(scratch, "workdir")
    try:
        start = time.perf_counter()
        generate_if_missing(config, envs.get_spec(config.env_name))
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        train_and_evaluate(config, workdir, stop_after_iterations=config.train.max_pretrain_iters + 2)
        train_s = time.perf_counter() - start
        keep = os.path.join(os.path.dirname(os.path.abspath(result.path)), "iteration")
        os.makedirs(keep, exist_ok=True)
        for name in (SCALARS_FILE, METRICS_FILE):
            shutil.copy(os.path.join(workdir, name), keep)
        with open(os.path.join(workdir, SCALARS_FILE)) as f:
            points = [json.loads(line) for line in f]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.update(preset=PRESET, generate_s=generate_s, train_and_evaluate_s=train_s,
                  iterations=per_iteration(points, config.train.max_pretrain_iters),
                  config={"dataset_steps": config.dataset.generate_num_steps, "embed_dim": config.model.embed_dim,
                          "n_layer": config.model.n_layer, "n_head": config.model.n_head,
                          "context_len": config.model.context_len, "batch_size": config.train.batch_size,
                          "pretrain_updates": config.train.num_updates_per_pretrain_iter,
                          "online_updates": config.train.num_updates_per_online_iter,
                          "num_eval_episodes": config.online.num_eval_episodes,
                          "minimum_sapairs_per_iter": config.online.minimum_sapairs_per_iter},
                  cell={"online_transitions": cell.online.max_online_transitions,
                        "pretrain_updates": cell.train.num_updates_per_pretrain_iter,
                        "online_updates": cell.train.num_updates_per_online_iter,
                        "eval_interval": cell.online.eval_interval, "checkpoint_every_iters": cell.checkpoint.every_iters})
    online = [it for it in result["iterations"] if it["phase"] == "online"]
    if len(online) != 2:
        raise RuntimeError(f"expected 2 online iterations in {SCALARS_FILE}, found {len(online)}")


def per_iteration(points: list, pretrain_iters: int) -> list:
    """The time/* seconds of every iteration; online ones with the transitions they collected."""
    out = {}
    for p in points:
        if p["tag"].startswith("time/"):
            it = out.setdefault(p["global_iteration"], {"global_iteration": p["global_iteration"], "sections": {},
                                                        "step": p["step"]})
            it["sections"][p["tag"][len("time/"):]] = p["value"]
    rows, transitions = [], 0
    for g in sorted(out):
        it = out.pop(g)
        it["phase"] = "pretrain" if g <= pretrain_iters else "online"
        it["total_s"] = sum(it["sections"].values())
        if it["phase"] == "online":  # the step of online scalars is the transition count so far
            it["transitions"], transitions = it["step"] - transitions, it["step"]
        rows.append(it)
    return rows


PARTS = {f.__name__: f for f in (environment, update, iteration, seeds, rollout, scan)}


def main(argv: list) -> None:
    part, profile, path = argv
    result = Result(path)
    PARTS[part](PROFILES[profile], result)
    result.save()


if __name__ == "__main__":
    main(sys.argv[1:])
