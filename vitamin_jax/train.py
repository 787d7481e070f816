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

Random streams (docs/design.md#random-streams): each seed has one root key
`PRNGKey(seed)`; every consumer derives its keys with `fold_in(purpose)`, then
`fold_in(iteration)` and `fold_in(call)`, so no two consumers share a stream.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import errno
import os
import sys
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vitamin_jax import distributed, envs, wandb_logging
from vitamin_jax.agent import AgentState, Learner
from vitamin_jax.algorithms import phase_coefficients
from vitamin_jax.checkpointing import Checkpointer, DamagedCheckpoint, DiskFull
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.data import offline_data
from vitamin_jax.data.batches import RunReplay
from vitamin_jax.data.loading import first_line
from vitamin_jax.data.sampler import ReplayArrays, sample
from vitamin_jax.envs.options import env_options
from vitamin_jax.errors import DatasetError, TrainingError
from vitamin_jax.logger import RunLogger
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.timing import Timings
from vitamin_jax.workdir import claim_workdir, save_config

# Purposes folded into a seed's root key: one stream per consumer.
INIT_KEYS, SAMPLING_KEYS, EVAL_ACTION_KEYS, COLLECT_ACTION_KEYS = range(4)
# Episode-seed streams of the environments (SeedSequence entropy), for evaluation and collection.
EVAL_EPISODES, ONLINE_EPISODES = 0, 1


def stream_keys(seeds: list[int], purpose: int, *position: int) -> jax.Array:
    """[S] keys: fold_in(PRNGKey(seed), purpose), then fold_in of each position entry."""
    keys = []
    for seed in seeds:
        key = jax.random.fold_in(jax.random.PRNGKey(seed), purpose)
        for p in position:
            key = jax.random.fold_in(key, p)
        keys.append(key)
    return jnp.stack(keys)


def dispatch_chunk(total: int, preferred: int) -> int:
    """Largest divisor of `total` not above `preferred`: a fixed scan length, one compile."""
    preferred = max(1, min(preferred, total))
    return max(d for d in range(1, preferred + 1) if total % d == 0)


def sampled_updates(learner: Learner, batch_size: int, batch_sharding=None) -> Callable:
    """`f(state, replay, key, coeffs, num_updates)`: a scan of `update(state, sample(replay, key))`.

    Each update draws its `interval` batches from the device-resident `replay`; `key`
    drives sampling only (the agent's own RNG stream is unchanged); metrics are [num_updates].
    Under data parallelism `batch_sharding` splits each sampled batch over the mesh.
    """
    interval, context_len = learner.actor_update_interval, learner.context_len

    def run(state: AgentState, replay: ReplayArrays, key: jax.Array, coeffs: dict, num_updates: int):
        def body(s, update_key):
            keys = jax.random.split(update_key, interval)
            batches = jax.vmap(lambda k: sample(replay, k, batch_size, context_len))(keys)
            if batch_sharding is not None:
                batches = jax.lax.with_sharding_constraint(batches, batch_sharding)
            return learner.update(s, batches, coeffs)

        return jax.lax.scan(body, state, jax.random.split(key, num_updates))

    return run


@dataclasses.dataclass
class LoopState:
    """Counters of the outer loop; saved in every checkpoint."""

    global_iteration: int = 0  # pretraining and online iterations completed
    pretrain_iteration: int = 0
    online_iteration: int = 0
    online_transitions: list = dataclasses.field(default_factory=lambda: [0])  # per seed
    updates: int = 0
    online_started: bool = False
    wall_time: float = 0.0


class Run:
    """What a run carries from iteration to iteration, and its checkpoints.

    Holds the agent state [S, ...], the loop counters, the host NumPy generators and the
    run's `RunReplay`; `save` / `restore` make a killed run continue exactly.
    """

    def __init__(self, config: ml_collections.ConfigDict, workdir: str, learner: Learner, replay: RunReplay):
        self.config, self.workdir = config, workdir
        self.seeds = [config.seed + s for s in range(config.num_seeds)]
        self.replay = replay
        self.agent = jax.jit(jax.vmap(learner.init))(stream_keys(self.seeds, INIT_KEYS))  # one compile, not one per op
        self.np_rngs = [np.random.default_rng(seed) for seed in self.seeds]  # host sampler only
        self.loop = LoopState(online_transitions=[0] * len(self.seeds))
        self.started_at = time.time()  # wall-clock origin of loop.wall_time; reset when the loop starts
        self.timings = Timings()  # this iteration's sections (vitamin_jax/timing.py)
        self.checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.checkpoint.keep)
        self.restored_step: Optional[int] = None  # the checkpoint this start resumed from
        self.restored_verified = False  # whether its digest was checked (False: written before digests)

    def restore(self) -> Optional[int]:
        """Restore the newest checkpoint that restores and matches its digest; its iteration, else None.

        A checkpoint that fails (files of another size than saved, contents that differ from
        the save's digest, unreadable metadata) is skipped; once an older one restores, one
        warning line names the damaged ones, which move to `corrupt_checkpoints/`. Every process
        of a job reaches the same verdict on every step. If none restores the run refuses to
        start (nothing moved), rather than silently start over a workdir that has results.
        Checkpoints written before digests existed (no step has one) restore unverified.
        """
        steps = self.checkpointer.all_steps()
        legacy = bool(steps) and not any(self.checkpointer.has_digest(step) for step in steps)
        failed = {}
        for step in steps:
            reason = self._restore_step(step, require_digest=not legacy)
            if reason is not None:
                failed[step] = reason
                continue
            self.restored_step, self.restored_verified = step, not legacy
            aside = os.path.join(self.workdir, "corrupt_checkpoints")
            for bad in failed:  # out of the way of the steps this run will save again
                self.checkpointer.set_aside(bad, aside, move=distributed.is_primary())
            if failed and distributed.is_primary():
                print(f"warning: {_damaged(failed, self.checkpointer.directory)}; resumed from checkpoint {step}, "
                      f"the damaged ones are in {aside}", file=sys.stderr)
            if legacy and distributed.is_primary():
                print(f"warning: the checkpoints in {self.checkpointer.directory} have no digests (written before "
                      f"checkpoints were verified); checkpoint {step} restored unverified", file=sys.stderr)
            if distributed.is_primary():
                verified = "digest verified" if not legacy else "unverified"
                print(f"Resumed from {self.checkpointer.directory} at iteration {step} ({verified}).")
            return step
        if steps:
            reasons = "; ".join(f"{step}: {reason}" for step, reason in failed.items())
            raise TrainingError(f"no checkpoint in {self.checkpointer.directory} restores ({reasons}); the "
                                f"run's outputs are left as they are: move the workdir away to start over, or use "
                                f"another --workdir")
        return None

    def _restore_step(self, step: int, require_digest: bool) -> Optional[str]:
        """Restore `step` into this run; why it does not restore, or None. Every process agrees."""
        try:  # sizes first: orbax never reads a truncated or missing file
            self.checkpointer.verify_files(step, require_digest)
            reason = None
        except DamagedCheckpoint as e:
            reason = str(e)
        reason = _agreed(reason)
        if reason is not None:
            return reason
        try:
            self.agent, arrays, meta = self.checkpointer.restore(step, self.agent, require_digest)
            self.replay.load_state_dict(arrays)
            for rng, state in zip(self.np_rngs, meta["np_rngs"]):
                rng.bit_generator.state = state
            self.loop = LoopState(**meta["loop"])
        except DamagedCheckpoint as e:
            reason = str(e)
        except Exception as e:  # orbax/tensorstore raise many kinds for damaged files
            reason = f"{type(e).__name__}: {first_line(e)}"
        return _agreed(reason)

    def save(self) -> None:
        meta = {"loop": dataclasses.asdict(self.loop), "np_rngs": [r.bit_generator.state for r in self.np_rngs]}
        try:
            self.checkpointer.save(self.loop.global_iteration, self.agent, self.replay.state_dict(), meta)
        except DiskFull as e:
            raise TrainingError(str(e)) from None

    def due_checkpoint(self, global_iteration: Optional[int] = None) -> bool:
        """Whether the iteration that ends at `global_iteration` (default: the current one) checkpoints."""
        at = self.loop.global_iteration if global_iteration is None else global_iteration
        return at % self.config.checkpoint.every_iters == 0

    def active(self) -> np.ndarray:
        """[S] seeds still below the online transition budget."""
        return np.array(self.loop.online_transitions) < self.config.online.max_online_transitions


# ---------------------------------------------------------------------------- one iteration's parts
def train(run: Run, updates: "Updates", phase: str, active: np.ndarray) -> dict:
    """`num_updates` actor updates per seed in fixed-size scanned chunks; per-seed mean metrics [S].

    'device' sampling copies the replay ring(s) to the accelerator once per call and draws
    windows inside the scan; 'host' samples per seed on the CPU and transfers each chunk.
    Seeds that are not `active` (budget reached) keep their state.
    """
    c = run.config
    num_updates = c.train.num_updates_per_pretrain_iter if phase == "pretrain" else c.train.num_updates_per_online_iter
    coeffs = phase_coefficients(c, phase)
    chunk = dispatch_chunk(num_updates, c.train.updates_per_dispatch)
    before = run.agent
    history = []
    timings = run.timings
    if c.train.sampler == "device":
        with timings.section("replay_transfer"):
            replay, axis = jax.block_until_ready(run.replay.device_replay(phase))
        with timings.section("updates"):
            for i in range(num_updates // chunk):
                keys = stream_keys(run.seeds, SAMPLING_KEYS, run.loop.global_iteration, i)
                run.agent, metrics = updates.on_device(run.agent, replay, keys, coeffs, chunk, axis)
                history.append(metrics)
            jax.block_until_ready(run.agent)
    else:  # host sampling (counted as the transfer) overlaps the previous chunk's updates
        start = time.perf_counter()
        for _ in range(num_updates // chunk):
            with timings.section("replay_transfer"):
                batches = run.replay.host_batches(phase, run.np_rngs, chunk, updates.interval, c.train.batch_size)
            run.agent, metrics = updates.from_host(run.agent, batches, coeffs)
            history.append(metrics)
        jax.block_until_ready(run.agent)
        timings.add("updates", time.perf_counter() - start - timings.seconds["replay_transfer"])
    timings.count("updates", num_updates)
    if not active.all():
        keep = jnp.asarray(active)
        run.agent = jax.tree.map(
            lambda new, old: jnp.where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), run.agent, before)
    run.loop.updates += num_updates
    metrics = {k: np.mean(np.concatenate([np.asarray(h[k]) for h in history], axis=1), axis=1)
               for k in history[0]}  # [S]
    bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v[active]))]
    if bad:
        raise TrainingError(_non_finite_message(run, phase, bad))
    return metrics


def _non_finite_message(run: Run, phase: str, bad: list) -> str:
    """Right after a restore the checkpoint is the suspect, not the learning rate."""
    where = f"non-finite {', '.join(bad)} in {phase} iteration {run.loop.global_iteration + 1}"
    step = run.restored_step
    if step is not None and run.loop.global_iteration == step:
        checked = "its digest matched" if run.restored_verified else "it had no digest to check"
        return (f"{where}, the first after restoring checkpoint {step} ({checked}): that checkpoint may be "
                f"damaged; move {run.checkpointer.step_dir(step)} into "
                f"{os.path.join(run.workdir, 'corrupt_checkpoints')} and rerun to resume from the one before it")
    latest = run.checkpointer.latest_step()
    kept = (f"the last checkpoint (iteration {latest}) in {run.checkpointer.directory} is kept"
            if latest is not None else "no checkpoint was written yet")
    return f"{where}; {kept}. Try a lower learning rate."


def roll_out(run: Run, worker: RolloutWorker, params, global_iteration: int, needs: np.ndarray) -> list:
    """The rollout calls of one iteration's collection: [(seeds that keep the call's episodes, results)].

    Calls go on until each seed in `needs` has >= minimum_sapairs_per_iter (mean episode
    length per call) from >= 1 call; a seed that has enough discards later calls' episodes.
    Reads nothing of `run` that the updates change, so it may run beside them (`async_collect`).
    """
    c = run.config
    collected = np.zeros(len(run.seeds))
    calls = []
    needs = needs.copy()
    while needs.any():
        results = worker.run_seeds(
            params, c.online.online_rtg,
            [(seed, ONLINE_EPISODES, global_iteration, len(calls)) for seed in run.seeds],
            stream_keys(run.seeds, COLLECT_ACTION_KEYS, global_iteration, len(calls)))
        calls.append((needs.copy(), results))
        for s in np.flatnonzero(needs):
            collected[s] += float(results[s].lengths.mean())
        needs &= collected < c.online.minimum_sapairs_per_iter
    return calls


def store(run: Run, calls: list) -> dict:
    """Add `roll_out`'s episodes to each seed's replay and budget; the rollout metrics [S]."""
    returns, lengths = [[] for _ in run.seeds], [[] for _ in run.seeds]
    for needs, results in calls:
        for s in np.flatnonzero(needs):
            run.replay.add(s, results[s].trajectories)
            run.loop.online_transitions[s] += results[s].num_transitions
            returns[s].extend(results[s].returns.tolist())
            lengths[s].extend(results[s].lengths.tolist())
    _check_processes_agree("collected episodes", [x for r in returns for x in r])
    mean = lambda lists: np.array([np.mean(x) if x else np.nan for x in lists])
    return {"rollout_return": mean(returns), "rollout_length": mean(lengths),
            "rollout_episodes": np.array([len(x) for x in returns], np.float64)}


class Collector:
    """Online collection, synchronous or (`online.async_collect`) one iteration ahead.

    Asynchronous: once iteration i has stored its episodes, the rollout of iteration i+1
    starts in a thread with the parameters iteration i starts from, while iteration i's
    updates run; the data of every iteration is therefore one iteration staler than in
    the original (docs/faithfulness.md#asynchronous-collection). An iteration that ends with
    a checkpoint starts nothing ahead, so a resumed run collects exactly as an uninterrupted
    one. The episodes' seeds and action keys are those of the synchronous loop.
    """

    def __init__(self, run: Run, worker: RolloutWorker):
        self.run, self.worker = run, worker
        self.ahead = run.config.online.async_collect
        self.executor = concurrent.futures.ThreadPoolExecutor(1, "rollout") if self.ahead else None
        self.pending: Optional[concurrent.futures.Future] = None

    def collect(self) -> dict:
        """Store this iteration's episodes (the rollout started ahead, if any) and start the next one."""
        run = self.run
        if self.pending is not None:
            calls, self.pending = self.pending.result(), None
        else:
            params = distributed.local_copy(run.agent.actor_params)
            calls = roll_out(run, self.worker, params, run.loop.global_iteration, run.active())
        metrics = store(run, calls)
        ends_with_checkpoint = run.due_checkpoint(run.loop.global_iteration + 1)  # this iteration's end
        if self.ahead and run.active().any() and not ends_with_checkpoint:
            params = distributed.local_copy(run.agent.actor_params)  # updates replace, never overwrite, them
            self.pending = self.executor.submit(roll_out, run, self.worker, params, run.loop.global_iteration + 1,
                                                run.active())
        return metrics

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def evaluate(run: Run, worker: RolloutWorker, logger: RunLogger, phase: str, iteration: int) -> dict:
    """Mean-action episodes of every seed; logs and returns the evaluation record."""
    c = run.config
    with run.timings.section("evaluation"):
        results = worker.run_seeds(
            distributed.local_copy(run.agent.actor_params), c.online.eval_rtg,
            [(seed, EVAL_EPISODES, run.loop.global_iteration) for seed in run.seeds],
            stream_keys(run.seeds, EVAL_ACTION_KEYS, run.loop.global_iteration))
    scores = [envs.normalized_score(c.env_name, r.raw_returns) for r in results]
    _check_processes_agree("evaluation returns", np.concatenate([r.raw_returns for r in results]))
    per_seed = {
        "return_mean": [float(r.returns.mean()) for r in results],
        "return_std": [float(r.returns.std()) for r in results],
        "raw_return_mean": [float(r.raw_returns.mean()) for r in results],
        "normalized_score": [float(np.mean(s)) for s in scores],
        "normalized_score_std": [float(np.std(s)) for s in scores],
        "length_mean": [float(r.lengths.mean()) for r in results],
    }
    if envs.get_spec(c.env_name).family == "antmaze":
        per_seed["success_rate"] = [envs.success_rate(c.env_name, r.raw_returns) for r in results]
    transitions = run.loop.online_transitions
    record = {
        "phase": phase, "iteration": iteration, "global_iteration": run.loop.global_iteration,
        "online_transitions": int(min(transitions)),
        "updates": run.loop.updates, **{k: float(np.mean(v)) for k, v in per_seed.items()},
        "wall_time": run.loop.wall_time,
    }
    if len(run.seeds) > 1:
        record.update({f"{k}_per_seed": v for k, v in per_seed.items()})
        record["online_transitions_per_seed"] = list(transitions)
    record.update({f"time/{k}": v for k, v in run.timings.seconds_so_far().items()})
    with run.timings.section("logging"):
        logger.log_evaluation(record)
    return record


@dataclasses.dataclass(frozen=True)
class Updates:
    """The jitted update functions of a run, vmapped over seeds (compiled once per shape)."""

    interval: int
    from_host: Callable  # (agent [S], batches [S, chunk, interval, B, ...], coeffs)
    on_device: Callable  # (agent [S], replay, keys [S], coeffs, num_updates, replay vmap axis)

    @classmethod
    def build(cls, learner: Learner, batch_size: int, mesh=None) -> "Updates":
        batch_sharding = distributed.batch_sharding(mesh, batch_axis=1) if mesh is not None else None
        scan = sampled_updates(learner, batch_size, batch_sharding)

        def on_device(agent, replay, keys, coeffs, num_updates, replay_axis):
            one_seed = lambda a, r, k: scan(a, r, k, coeffs, num_updates)
            return jax.vmap(one_seed, in_axes=(0, replay_axis, 0))(agent, replay, keys)

        from_host = jax.vmap(learner.update_many, in_axes=(0, 0, None))
        if mesh is not None:  # host batches are placed split over the mesh: [S, chunk, interval, B, ...]
            place = lambda batches: distributed.shard_batch(batches, mesh, batch_axis=3)
            host_jit = jax.jit(from_host)
            from_host_fn = lambda agent, batches, coeffs: host_jit(agent, place(batches), coeffs)
        else:
            from_host_fn = jax.jit(from_host)
        return cls(learner.actor_update_interval, from_host_fn, jax.jit(on_device, static_argnums=(4, 5)))


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


def _check_processes_agree(what: str, values) -> None:
    """Every process of a job steps the same episodes (docs/design.md#multi-process-runs); check they did."""
    if not distributed.multi_process():
        return
    every = distributed.all_processes(np.asarray(values, np.float64))
    if not np.array_equal(every, np.broadcast_to(every[0], every.shape)):
        raise TrainingError(f"the processes of this job disagree on their {what} (max difference "
                            f"{np.abs(every - every[0]).max():.3g}); they must run on identical software and "
                            f"hardware for their environments to step alike")


def _agreed(reason: Optional[str]) -> Optional[str]:
    """This process's verdict on a checkpoint, or, if another process found it damaged, that one's."""
    if not distributed.multi_process():
        return reason
    damaged = distributed.all_processes(np.array([reason is not None]))[:, 0]
    if reason is None and damaged.any():
        return f"process {int(np.flatnonzero(damaged)[0])} of this job found it damaged"
    return reason


def _damaged(failed: dict, directory: str) -> str:
    """'checkpoint 4 in DIR does not restore (why)' for one or several steps."""
    if len(failed) == 1:
        (step, reason), = failed.items()
        return f"checkpoint {step} in {directory} does not restore ({reason})"
    reasons = "; ".join(f"{step}: {reason}" for step, reason in failed.items())
    return f"checkpoints {', '.join(map(str, failed))} in {directory} do not restore ({reasons})"


def _squeeze(metrics: dict) -> dict:
    """Per-seed arrays [S]; a single seed logs plain scalars."""
    return {k: (float(v[0]) if np.size(v) == 1 else np.asarray(v)) for k, v in metrics.items()}


class _Progress:
    """A tqdm bar over online transitions with phase, latest score and updates/s."""

    def __init__(self, config, loop: LoopState):
        from tqdm import tqdm

        self.bar = tqdm(total=config.online.max_online_transitions, initial=int(min(loop.online_transitions)),
                        unit="tr", disable=not (config.log.progress_bar and distributed.is_primary()),
                        dynamic_ncols=True)
        self.loop = loop
        self.last: Optional[dict] = None

    def update(self, phase: str, record: Optional[dict], timings: Timings) -> None:
        self.last = record or self.last
        self.bar.update(int(min(self.loop.online_transitions)) - self.bar.n)
        score = "n/a" if self.last is None else f"{self.last['normalized_score']:.1f}"
        rates = f"upd/s {timings.rate('updates', 'updates'):.0f}"
        if timings.counts.get("env_steps"):
            rates += f" env steps/s {timings.rate('env_steps', 'rollout_env', 'rollout_act'):.0f}"
        self.bar.set_postfix_str(f"{phase} it {self.loop.global_iteration} score {score} {rates}")

    def close(self) -> None:
        self.bar.close()

