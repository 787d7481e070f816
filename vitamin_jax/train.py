"""The main job: offline pretraining, then online finetuning (docs/design.md#the-training-loop).

`train_and_evaluate(config, workdir)` is importable (tests, sweeps) and restores from the
workdir on start, so resuming a killed run is the normal path, not a special case. It reads
top to bottom: set-up, pretraining iterations, online iterations (collect, train, evaluate,
checkpoint), summary.

`config.num_seeds` S runs S seeds (config.seed, config.seed + 1, ...) in one process: the
agent state carries a leading [S] axis and every update is vmapped over it; rollouts step
S x N environments with one batched action call; each seed keeps its own replay buffer,
sampling stream and transition count. Seed s of a group run follows exactly the same
computation as a single run with seed config.seed + s.

The parts live in their own modules: random streams (vitamin_jax/streams.py), what a run
carries and how it resumes (vitamin_jax/run_state.py), the update programs
(vitamin_jax/updates.py), collection and evaluation (vitamin_jax/episodes.py).
"""

from __future__ import annotations

import dataclasses
import errno
import time
from typing import Callable, Optional

import jax
import ml_collections
import numpy as np

from vitamin_jax import distributed, envs, wandb_logging
from vitamin_jax.agent import Learner
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.data import offline_data
from vitamin_jax.data.batches import RunReplay
from vitamin_jax.episodes import Collector, evaluate
from vitamin_jax.errors import DatasetError, TrainingError
from vitamin_jax.logger import ProgressBar, RunLogger
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.run_state import Run
from vitamin_jax.updates import Updates, train
from vitamin_jax.workdir import claim_workdir, save_config


def pretrain_iteration(run: Run, updates: Updates, logger: RunLogger, eval_worker: RolloutWorker,
                       progress: ProgressBar) -> None:
    """Supervised updates on the offline set (plus RL terms with `rl.rl_from_start`), evaluate, checkpoint."""
    c = run.config
    metrics = train(run, updates, "pretrain", np.ones(len(run.seeds), bool))
    run.loop.pretrain_iteration += 1
    run.loop.global_iteration += 1
    run.loop.wall_time = time.time() - run.started_at
    with run.timings.section("logging"):
        logger.log_scalars("pretrain", _squeeze(metrics), run.loop.updates, run.loop.global_iteration)
    record = evaluate(run, eval_worker, logger, "pretrain", run.loop.pretrain_iteration)
    progress.update("pretrain", record, run.timings)
    if run.due_checkpoint() or run.loop.pretrain_iteration == c.train.max_pretrain_iters:
        with run.timings.section("checkpoint"):
            run.save()
    logger.log_scalars("time", run.timings.take(), run.loop.updates, run.loop.global_iteration)


def online_iteration(run: Run, updates: Updates, logger: RunLogger, collector: Collector,
                     eval_worker: RolloutWorker, progress: ProgressBar) -> None:
    """Collect episodes into each seed's replay, train on it, evaluate every `eval_interval`, checkpoint."""
    c = run.config
    if not run.loop.online_started:
        run.agent = jax.vmap(Learner.sync_targets)(run.agent)  # hard copy at the phase start
        run.loop.online_started = True
    active = run.active()
    rollout = collector.collect()
    metrics = train(run, updates, "online", active)
    run.loop.online_iteration += 1
    run.loop.global_iteration += 1
    run.loop.wall_time = time.time() - run.started_at
    with run.timings.section("logging"):
        logger.log_scalars("online", _squeeze({**metrics, **rollout}), int(min(run.loop.online_transitions)),
                           run.loop.global_iteration)
    finished = not run.active().any()
    record = None
    if run.loop.online_iteration % c.online.eval_interval == 0 or finished:
        record = evaluate(run, eval_worker, logger, "online", run.loop.online_iteration)
    progress.update("online", record, run.timings)
    if run.due_checkpoint() or finished:
        with run.timings.section("checkpoint"):
            run.save()
    logger.log_scalars("time", run.timings.take(), int(min(run.loop.online_transitions)), run.loop.global_iteration)


@dataclasses.dataclass
class Job:
    """What the loop works with, built once per start of a workdir (`set_up`)."""

    run: Run
    updates: Updates
    logger: RunLogger
    progress: ProgressBar
    eval_worker: RolloutWorker
    make_collector: Callable[[], Collector]  # built when the online phase starts


def set_up(config: ml_collections.ConfigDict, workdir: str) -> Job:
    """Data, learner, replay, restored run state, logger and rollout workers of a resolved config."""
    spec = envs.get_spec(config.env_name)
    # process 0 first: it may generate the dataset, which the others then load
    data = distributed.primary_first(lambda: offline_data(config, spec),
                                     lambda: offline_data(config, spec, verbose=False),
                                     "load the offline dataset", DatasetError)
    learner = Learner.from_config(config, data.state_mean.shape[0], data.trajectories[0]["actions"].shape[-1],
                                  bool(config.critic.layer_norm))
    mesh = distributed.config_mesh(config)
    replay = RunReplay(data, num_seeds=config.num_seeds, replay_size=config.train.replay_size,
                       context_len=config.model.context_len, reward_scale=config.online.reward_scale,
                       replicated=distributed.replicated(mesh) if mesh is not None else None)
    run = Run(config, workdir, learner, replay)
    restored_iteration = run.restore()
    save_config(workdir, config)  # only now: a refused start leaves the workdir as it was
    if mesh is not None:
        run.agent = distributed.replicate(run.agent, mesh)
    seeds = run.seeds
    title = f"{config.algo} {config.env_name} seed {config.seed}" + (f"..{seeds[-1]}" if len(seeds) > 1 else "")
    logger = RunLogger(workdir, tensorboard=config.log.tensorboard, title=title,
                       keep_until_iteration=restored_iteration, write=distributed.is_primary(),
                       mirror_factory=lambda kept: wandb_logging.from_config(config, workdir, title, kept))
    worker = lambda num_envs, explore, timings=None: RolloutWorker.from_config(
        config, learner.actor, num_envs, state_mean=data.state_mean, state_std=data.state_std, explore=explore,
        timings=timings)
    return Job(run, Updates.build(learner, config.train.batch_size, mesh), logger, ProgressBar(config, run.loop),
               eval_worker=worker(config.online.num_eval_episodes, False),  # timed as a whole: "evaluation"
               make_collector=lambda: Collector(run, worker(config.online.num_online_envs, True, run.timings)))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_iterations: Optional[int] = None) -> dict:
    """Run to the transition budget (resuming from `workdir`); `stop_after_iterations` stops early."""
    config = resolve_config(config)
    lock = claim_workdir(workdir, config)  # one run per workdir; a resume must keep the run's config
    try:
        job = set_up(config, workdir)
        run = job.run
        stop = lambda: stop_after_iterations is not None and run.loop.global_iteration >= stop_after_iterations
        run.started_at = time.time() - run.loop.wall_time  # wall time counts the loop, across resumes
        collector, exit_code = None, 1  # exit code 1 until the loop ends without an exception
        try:
            if run.loop.global_iteration == 0:
                run.agent = jax.vmap(Learner.sync_targets)(run.agent)
            while run.loop.pretrain_iteration < config.train.max_pretrain_iters and not stop():
                pretrain_iteration(run, job.updates, job.logger, job.eval_worker, job.progress)
            while run.active().any() and not stop():
                collector = collector or job.make_collector()
                online_iteration(run, job.updates, job.logger, collector, job.eval_worker, job.progress)
            exit_code = 0
        finally:
            if collector is not None:
                collector.close()
            job.progress.close()
            job.logger.close(exit_code)
            run.checkpointer.close()
        return run_summary(config, run, job.logger.records)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise TrainingError(f"no space left on device writing {e.filename or workdir}; free space or copy the "
                            f"workdir elsewhere, then rerun to resume from its last checkpoint") from None
    finally:
        lock.release()


# ---------------------------------------------------------------------------- helpers
def run_summary(config: ml_collections.ConfigDict, run: Run, records: list) -> dict:
    """The run's one-line result: scores, transitions, updates, wall time (printed by main, kept by sweeps)."""
    pre = [r for r in records if r["phase"] == "pretrain"]
    online = [r for r in records if r["phase"] == "online"]
    last = online[-1] if online else (pre[-1] if pre else None)
    summary = {
        "env": config.env_name, "algo": config.algo,
        "seeds": run.seeds if len(run.seeds) > 1 else config.seed,
        "pretrain_score": pre[-1]["normalized_score"] if pre else None,
        "final_score": last["normalized_score"] if last else None,
        "best_score": max((r["normalized_score"] for r in records), default=None),
        "online_transitions": int(min(run.loop.online_transitions)), "updates": run.loop.updates,
        "wall_time_s": round(run.loop.wall_time, 1),
    }
    if len(run.seeds) > 1 and last:
        summary["final_score_per_seed"] = [round(v, 2) for v in last["normalized_score_per_seed"]]
    return summary


def _squeeze(metrics: dict) -> dict:
    """Per-seed arrays [S]; a single seed logs plain scalars."""
    return {k: (float(v[0]) if np.size(v) == 1 else np.asarray(v)) for k, v in metrics.items()}
