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

import errno
import time
from typing import Optional

import jax
import ml_collections
import numpy as np

from vitamin_jax import distributed, envs, wandb_logging
from vitamin_jax.agent import Learner
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.data import offline_data
from vitamin_jax.data.batches import RunReplay
from vitamin_jax.envs.options import env_options
from vitamin_jax.episodes import Collector, evaluate
from vitamin_jax.errors import DatasetError, TrainingError
from vitamin_jax.logger import RunLogger, _Progress
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.run_state import Run
from vitamin_jax.timing import Timings
from vitamin_jax.updates import Updates, train
from vitamin_jax.workdir import claim_workdir, save_config


# ---------------------------------------------------------------------------- the job
def pretrain_iteration(run: Run, updates: Updates, logger: RunLogger, eval_worker: RolloutWorker,
                       progress: "_Progress") -> None:
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
                     eval_worker: RolloutWorker, progress: "_Progress") -> None:
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_iterations: Optional[int] = None) -> dict:
    """Run to the transition budget (resuming from `workdir`); `stop_after_iterations` stops early."""
    config = resolve_config(config)
    lock = claim_workdir(workdir, config)  # one run per workdir; a resume must keep the run's config
    try:
        # ---- set-up
        spec = envs.get_spec(config.env_name)
        # process 0 first: it may generate the dataset, which the others then load
        data = distributed.primary_first(lambda: offline_data(config, spec),
                                         lambda: offline_data(config, spec, verbose=False),
                                         "load the offline dataset", DatasetError)
        learner = Learner.from_config(config, data.state_mean.shape[0], data.trajectories[0]["actions"].shape[-1],
                                      bool(config.critic.layer_norm))
        mesh = _data_mesh(config)
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
        updates = Updates.build(learner, config.train.batch_size, mesh)
        make_worker = lambda num_envs, explore, timings=None: _rollout_worker(config, spec, data, learner, num_envs,
                                                                              explore, timings)
        eval_worker = make_worker(config.online.num_eval_episodes, False)  # timed as a whole: "evaluation"
        collector = None  # built when the online phase starts
        progress = _Progress(config, run.loop)
        stop = lambda: stop_after_iterations is not None and run.loop.global_iteration >= stop_after_iterations
        run.started_at = time.time() - run.loop.wall_time  # wall time counts the loop, across resumes
        exit_code = 1  # until the loop ends without an exception
        try:
            if run.loop.global_iteration == 0:
                run.agent = jax.vmap(Learner.sync_targets)(run.agent)
            # ---- pretraining, then online iterations
            while run.loop.pretrain_iteration < config.train.max_pretrain_iters and not stop():
                pretrain_iteration(run, updates, logger, eval_worker, progress)
            while run.active().any() and not stop():
                collector = collector or Collector(run, make_worker(config.online.num_online_envs, True, run.timings))
                online_iteration(run, updates, logger, collector, eval_worker, progress)
            exit_code = 0
        finally:
            if collector is not None:
                collector.close()
            progress.close()
            logger.close(exit_code)
            run.checkpointer.close()
        return summarize(config, run, logger.records)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise TrainingError(f"no space left on device writing {e.filename or workdir}; free space or copy the "
                            f"workdir elsewhere, then rerun to resume from its last checkpoint") from None
    finally:
        lock.release()


# ---------------------------------------------------------------------------- helpers
def summarize(config: ml_collections.ConfigDict, run: Run, records: list) -> dict:
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


def _data_mesh(config: ml_collections.ConfigDict):
    """The data mesh: local devices with `parallel.data_parallel`, every process's devices in a multi-process job."""
    if distributed.multi_process():
        if config.parallel.num_devices not in (0, jax.device_count()):
            raise TrainingError(f"config.parallel.num_devices={config.parallel.num_devices}: a multi-process job "
                                f"uses all {jax.device_count()} devices of its processes; leave it 0")
    elif not config.parallel.data_parallel:
        return None
    mesh = distributed.data_mesh(config.parallel.num_devices or None)
    if config.train.batch_size % mesh.devices.size:
        raise TrainingError(f"config.train.batch_size={config.train.batch_size} does not divide over "
                            f"{mesh.devices.size} devices")
    return mesh


def _rollout_worker(config, spec, data, learner: Learner, num_envs: int, explore: bool,
                    timings: Optional[Timings] = None) -> RolloutWorker:
    c = config
    return RolloutWorker(
        lambda: envs.make_env(c.env_name, delayed_reward=c.dataset.delayed_reward, **env_options(c)),
        num_envs, learner.actor,
        context_len=c.model.context_len, eval_context_length=c.model.eval_context_length,
        state_mean=data.state_mean, state_std=data.state_std, reward_scale=c.online.reward_scale,
        raw_reward=spec.unwrap_reward, max_episode_steps=spec.max_episode_steps, explore=explore,
        expl_noise=c.online.expl_noise, truncation=c.online.truncation, num_seeds=c.num_seeds, timings=timings,
    )


def _squeeze(metrics: dict) -> dict:
    """Per-seed arrays [S]; a single seed logs plain scalars."""
    return {k: (float(v[0]) if np.size(v) == 1 else np.asarray(v)) for k, v in metrics.items()}


