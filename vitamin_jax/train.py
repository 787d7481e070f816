"""The main job: offline pretraining, then online finetuning (DESIGN.md section 5).

`train_and_evaluate(config, workdir)` is importable (tests, sweeps) and restores from the
workdir on start, so resuming a killed run is the normal path, not a special case.

`config.num_seeds` S runs S seeds (config.seed, config.seed + 1, ...) in one process: the
agent state carries a leading [S] axis and every update is vmapped over it; rollouts step
S x N environments with one batched action call; each seed keeps its own replay buffer,
sampling stream and transition count. A single run is S = 1. Seed s of a group run follows
exactly the same computation as a single run with seed config.seed + s.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vitamin_jax import distributed, envs
from vitamin_jax.agent import Learner
from vitamin_jax.algorithms import phase_coefficients
from vitamin_jax.checkpointing import Checkpointer
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.data import device_sampler, offline_data
from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer, flatten_trajectories
from vitamin_jax.data.sampler import SegmentSampler
from vitamin_jax.logger import RunLogger
from vitamin_jax.rollout import RolloutResult, RolloutWorker

EVAL_STREAM, ONLINE_STREAM = 0, 1  # separate episode-seed streams for evaluation and collection


class TrainingError(RuntimeError):
    """A run cannot go on (e.g. non-finite losses); the last checkpoint is kept."""


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


def _dispatch_chunk(total: int, preferred: int) -> int:
    """Largest divisor of `total` not above `preferred`: a fixed scan length, one compile."""
    preferred = max(1, min(preferred, total))
    return max(d for d in range(1, preferred + 1) if total % d == 0)


def _capacity_bucket(rows: int) -> int:
    """Device capacity for a group of linearised buffers: the next power of two (few recompiles)."""
    return 1 << max(10, int(rows - 1).bit_length())


def _linearised(flat: FlatTrajectories, capacity: int) -> FlatTrajectories:
    """The ring in logical order from row 0, zero-padded to `capacity` rows (same windows)."""
    rows = (flat.head + np.arange(flat.num_transitions)) % flat.rows
    pad = capacity - flat.num_transitions

    def take(array):
        values = array[rows]
        return np.concatenate([values, np.zeros((pad,) + values.shape[1:], values.dtype)])

    fields = {k: take(getattr(flat, k)) for k in ("observations", "actions", "rewards", "next_observations",
                                                  "terminals", "timeouts", "rtg", "positions", "remaining")}
    return FlatTrajectories(**fields, starts=flat.starts, lengths=flat.lengths, head=0, size=flat.num_transitions)


class Trainer:
    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        self.config = config = resolve_config(config)
        self.workdir = workdir
        _prepare_workdir(workdir)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
        self.spec = envs.get_spec(config.env_name)
        self.num_seeds = config.num_seeds
        self.seeds = [config.seed + s for s in range(self.num_seeds)]
        self.data = offline_data(config, self.spec)
        state_dim = self.data.state_mean.shape[0]
        act_dim = self.data.trajectories[0]["actions"].shape[-1]
        self.learner = Learner.from_config(config, state_dim, act_dim, bool(config.critic.layer_norm))
        self.mesh = None
        if config.parallel.data_parallel:
            self.mesh = distributed.data_mesh(config.parallel.num_devices or None)
            if config.train.batch_size % self.mesh.devices.size:
                raise TrainingError(f"config.train.batch_size={config.train.batch_size} does not divide over "
                                    f"{self.mesh.devices.size} devices")
            self.learner = dataclasses.replace(self.learner,
                                               batch_sharding=distributed.batch_sharding(self.mesh, batch_axis=1))
        self.interval = self.learner.actor_update_interval
        self.sampler_kwargs = dict(
            context_len=config.model.context_len, state_mean=self.data.state_mean, state_std=self.data.state_std,
            reward_scale=config.online.reward_scale,
        )
        self.offline_flat = flatten_trajectories(self.data.trajectories)
        self._offline_on_device = None
        self.replays = [ReplayBuffer(config.train.replay_size, self.data.trajectories) for _ in self.seeds]
        self.np_rngs = [np.random.default_rng(seed) for seed in self.seeds]
        self.agent = jax.vmap(self.learner.init)(jnp.stack([jax.random.PRNGKey(seed) for seed in self.seeds]))
        self.loop = LoopState(online_transitions=[0] * self.num_seeds)
        self.checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.checkpoint.keep)
        restored_iteration = self._maybe_restore()
        if self.mesh is not None:
            self.agent = distributed.replicate(self.agent, self.mesh)
        title = f"{config.algo} {config.env_name} seed {config.seed}" + (
            f"..{self.seeds[-1]}" if self.num_seeds > 1 else "")
        self.logger = RunLogger(workdir, tensorboard=config.log.tensorboard, title=title,
                                keep_until_iteration=restored_iteration)
        self.update_many = jax.jit(jax.vmap(self.learner.update_many, in_axes=(0, 0, None)))
        self.update_on_device = jax.jit(self._device_updates, static_argnums=(4, 5, 6))
        self.eval_worker = self._worker(config.online.num_eval_episodes, explore=False)
        self.online_worker = None  # built when the online phase starts

    # ------------------------------------------------------------ set-up
    def _worker(self, num_envs: int, explore: bool) -> RolloutWorker:
        c, spec = self.config, self.spec
        return RolloutWorker(
            lambda: envs.make_env(c.env_name, delayed_reward=c.dataset.delayed_reward),
            num_envs, self.learner.actor,
            context_len=c.model.context_len, eval_context_length=c.model.eval_context_length,
            state_mean=self.data.state_mean, state_std=self.data.state_std, reward_scale=c.online.reward_scale,
            raw_reward=lambda r: (r - spec.reward_shift) * spec.reward_divisor,
            max_episode_steps=spec.max_episode_steps, explore=explore, expl_noise=c.online.expl_noise,
            truncation=c.online.truncation, num_seeds=self.num_seeds,
        )

    def _maybe_restore(self) -> Optional[int]:
        step = self.checkpointer.latest_step()
        if step is None:
            return None
        self.agent, arrays, meta = self.checkpointer.restore(step, self.agent)
        self.replays = [ReplayBuffer.from_state_dict(arrays["replay"][str(s)]) for s in range(self.num_seeds)]
        for rng, state in zip(self.np_rngs, meta["np_rngs"]):
            rng.bit_generator.state = state
        self.loop = LoopState(**meta["loop"])
        print(f"Resumed from {self.checkpointer.directory} at iteration {step}.")
        return step

    def _save(self) -> None:
        meta = {"loop": dataclasses.asdict(self.loop), "np_rngs": [r.bit_generator.state for r in self.np_rngs]}
        arrays = {"replay": {str(s): r.state_dict() for s, r in enumerate(self.replays)},
                  "state_mean": self.data.state_mean, "state_std": self.data.state_std}
        self.checkpointer.save(self.loop.global_iteration, self.agent, arrays, meta)

    # -------------------------------------------------------------- steps
    def _device_updates(self, agent, replay, keys, coeffs, num_updates, batch_size, replay_axis):
        """vmap over seeds of `update_many_on_device`; replay shared (axis None) or per seed (0)."""
        update = lambda a, r, k: self.learner.update_many_on_device(a, r, k, coeffs, num_updates, batch_size)
        return jax.vmap(update, in_axes=(0, replay_axis, 0))(agent, replay, keys)

    def _device_replay(self, sources: list) -> tuple:
        """(DeviceReplay, vmap axis): one shared copy for the offline data, else stacked per seed."""
        c = self.config
        sharding = distributed.replicated(self.mesh) if self.mesh is not None else None
        to_device = lambda flat: device_sampler.to_device(flat, self.data.state_mean, self.data.state_std,
                                                          c.online.reward_scale, sharding)
        if all(s is self.offline_flat for s in sources):  # pretraining: every seed samples the offline set
            if self._offline_on_device is None:  # it never changes: copy it once for all iterations
                self._offline_on_device = to_device(self.offline_flat)
            return self._offline_on_device, None
        flats = [s.flat for s in sources]
        if len(flats) == 1:
            return jax.tree.map(lambda x: x[None], to_device(flats[0])), 0
        capacity = _capacity_bucket(max(f.num_transitions for f in flats))
        stacked = [to_device(_linearised(f, capacity)) for f in flats]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *stacked), 0

    def _train(self, sources: list, num_updates: int, phase: str, active: np.ndarray) -> dict:
        """`num_updates` actor updates per seed in fixed-size scanned chunks; per-seed mean metrics.

        'device' sampling copies the replay ring(s) to the accelerator once per call and draws
        windows inside the scan; 'host' samples with NumPy and transfers each chunk. Seeds that
        are not `active` (budget reached) keep their state.
        """
        c = self.config
        coeffs = phase_coefficients(c, phase)
        chunk = _dispatch_chunk(num_updates, c.train.updates_per_dispatch)
        batch_size = c.train.batch_size
        before = self.agent
        history = []
        if c.train.sampler == "device":
            replay, axis = self._device_replay(sources)
            base = [jax.random.fold_in(jax.random.PRNGKey(seed + 3), self.loop.global_iteration) for seed in self.seeds]
            for i in range(num_updates // chunk):
                keys = jnp.stack([jax.random.fold_in(k, i) for k in base])
                self.agent, metrics = self.update_on_device(self.agent, replay, keys, coeffs, chunk, batch_size, axis)
                history.append(metrics)
        else:
            samplers = [SegmentSampler(source, **self.sampler_kwargs) for source in sources]
            for _ in range(num_updates // chunk):
                per_seed = []
                for sampler, rng in zip(samplers, self.np_rngs):
                    flat = sampler.sample(rng, chunk * self.interval * batch_size)
                    per_seed.append(jax.tree.map(
                        lambda x: x.reshape((chunk, self.interval, batch_size) + x.shape[1:]), flat))
                batches = jax.tree.map(lambda *xs: np.stack(xs), *per_seed)  # [S, chunk, interval, B, ...]
                if self.mesh is not None:
                    batches = distributed.shard_batch(batches, self.mesh, batch_axis=3)
                self.agent, metrics = self.update_many(self.agent, batches, coeffs)
                history.append(metrics)
        if not active.all():
            keep = jnp.asarray(active)
            self.agent = jax.tree.map(
                lambda new, old: jnp.where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), self.agent, before)
        self.loop.updates += num_updates
        metrics = {k: np.mean(np.concatenate([np.asarray(h[k]) for h in history], axis=1), axis=1)
                   for k in history[0]}  # [S]
        bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v[active]))]
        if bad:
            raise TrainingError(
                f"non-finite {', '.join(bad)} in {phase} iteration {self.loop.global_iteration + 1}; "
                f"the last good checkpoint in {self.checkpointer.directory} is kept. Try a lower learning rate."
            )
        return metrics

    def _seed_keys(self, offset: int, position: int) -> jax.Array:
        return jnp.stack([jax.random.fold_in(jax.random.PRNGKey(seed + offset), position) for seed in self.seeds])

    def _evaluate(self, phase: str, iteration: int) -> dict:
        c = self.config
        results = self.eval_worker.run_seeds(
            self.agent.actor_params, c.online.eval_rtg,
            [(seed, EVAL_STREAM, self.loop.global_iteration) for seed in self.seeds],
            self._seed_keys(1, self.loop.global_iteration))
        per_seed = {
            "return_mean": [float(r.returns.mean()) for r in results],
            "return_std": [float(r.returns.std()) for r in results],
            "raw_return_mean": [float(r.raw_returns.mean()) for r in results],
            "normalized_score": [float(np.mean(envs.normalized_score(c.env_name, r.raw_returns))) for r in results],
            "normalized_score_std": [float(np.std(envs.normalized_score(c.env_name, r.raw_returns)))
                                     for r in results],
            "length_mean": [float(r.lengths.mean()) for r in results],
        }
        if self.spec.family == "antmaze":
            per_seed["success_rate"] = [envs.success_rate(c.env_name, r.raw_returns) for r in results]
        transitions = self.loop.online_transitions
        record = {
            "phase": phase, "iteration": iteration, "global_iteration": self.loop.global_iteration,
            "total_transitions": int(min(transitions)), "online_transitions": int(min(transitions)),
            "updates": self.loop.updates, **{k: float(np.mean(v)) for k, v in per_seed.items()},
            "wall_time": self.loop.wall_time,
        }
        if self.num_seeds > 1:
            record.update({f"{k}_per_seed": v for k, v in per_seed.items()})
            record["online_transitions_per_seed"] = list(transitions)
        self.logger.log_evaluation(record)
        return record

    def _collect(self, active: np.ndarray) -> dict:
        """Roll out until each active seed has >= minimum_sapairs_per_iter (mean episode length
        per call) from >= 1 call; a seed that has enough discards later calls' episodes."""
        c = self.config
        collected = np.zeros(self.num_seeds)
        calls = 0
        returns, lengths = [[] for _ in self.seeds], [[] for _ in self.seeds]
        needs = active.copy()
        while needs.any():
            position = self.loop.global_iteration * 1000 + calls
            results: list[RolloutResult] = self.online_worker.run_seeds(
                self.agent.actor_params, c.online.online_rtg,
                [(seed, ONLINE_STREAM, self.loop.global_iteration, calls) for seed in self.seeds],
                self._seed_keys(2, position))
            for s in np.flatnonzero(needs):
                self.replays[s].add(results[s].trajectories)
                self.loop.online_transitions[s] += results[s].num_transitions
                collected[s] += float(results[s].lengths.mean())
                returns[s].extend(results[s].returns.tolist())
                lengths[s].extend(results[s].lengths.tolist())
            calls += 1
            needs &= collected < c.online.minimum_sapairs_per_iter
        mean = lambda lists: np.array([np.mean(x) if x else np.nan for x in lists])
        return {"rollout_return": mean(returns), "rollout_length": mean(lengths),
                "rollout_episodes": np.array([len(x) for x in returns], np.float64)}

    # --------------------------------------------------------------- loop
    def _active(self) -> np.ndarray:
        return np.array(self.loop.online_transitions) < self.config.online.max_online_transitions

    def run(self, stop_after_iterations: Optional[int] = None) -> dict:
        """Run to the transition budget; `stop_after_iterations` stops early (tests of resume)."""
        c = self.config
        start = time.time() - self.loop.wall_time
        last_eval = None
        progress = _Progress(c, self.loop)
        everyone = np.ones(self.num_seeds, bool)
        try:
            if self.loop.global_iteration == 0:
                self.agent = jax.vmap(Learner.sync_targets)(self.agent)
            stop = lambda: stop_after_iterations is not None and self.loop.global_iteration >= stop_after_iterations
            while self.loop.pretrain_iteration < c.train.max_pretrain_iters and not stop():
                t0 = time.time()
                metrics = self._train([self.offline_flat] * self.num_seeds, c.train.num_updates_per_pretrain_iter,
                                      "pretrain", everyone)
                self.loop.pretrain_iteration += 1
                self.loop.global_iteration += 1
                self.loop.wall_time = time.time() - start
                self.logger.log_scalars("pretrain", _squeeze(metrics), self.loop.updates)
                last_eval = self._evaluate("pretrain", self.loop.pretrain_iteration)
                progress.update("pretrain", last_eval, c.train.num_updates_per_pretrain_iter / (time.time() - t0))
                if self._due_checkpoint() or self.loop.pretrain_iteration == c.train.max_pretrain_iters:
                    self._save()

            if self._active().any() and not stop():
                self.online_worker = self._worker(c.online.num_online_envs, explore=True)
            while self._active().any() and not stop():
                t0 = time.time()
                if not self.loop.online_started:
                    self.agent = jax.vmap(Learner.sync_targets)(self.agent)  # hard copy at the phase start
                    self.loop.online_started = True
                active = self._active()
                rollout = self._collect(active)
                metrics = self._train(self.replays, c.train.num_updates_per_online_iter, "online", active)
                self.loop.online_iteration += 1
                self.loop.global_iteration += 1
                self.loop.wall_time = time.time() - start
                self.logger.log_scalars("online", _squeeze({**metrics, **rollout}), int(min(self.loop.online_transitions)))
                finished = not self._active().any()
                if self.loop.online_iteration % c.online.eval_interval == 0 or finished:
                    last_eval = self._evaluate("online", self.loop.online_iteration)
                progress.update("online", last_eval, c.train.num_updates_per_online_iter / (time.time() - t0))
                if self._due_checkpoint() or finished:
                    self._save()
        finally:
            progress.close()
            self.logger.close()
            self.checkpointer.close()
        return self.summary()

    def _due_checkpoint(self) -> bool:
        return self.loop.global_iteration % self.config.checkpoint.every_iters == 0

    def summary(self) -> dict:
        records = self.logger.records
        pre = [r for r in records if r["phase"] == "pretrain"]
        online = [r for r in records if r["phase"] == "online"]
        last = online[-1] if online else (pre[-1] if pre else None)
        summary = {
            "env": self.config.env_name, "algo": self.config.algo,
            "seeds": self.seeds if self.num_seeds > 1 else self.config.seed,
            "pretrain_score": pre[-1]["normalized_score"] if pre else None,
            "final_score": last["normalized_score"] if last else None,
            "best_score": max((r["normalized_score"] for r in records), default=None),
            "online_transitions": int(min(self.loop.online_transitions)), "updates": self.loop.updates,
            "wall_time_s": round(self.loop.wall_time, 1),
        }
        if self.num_seeds > 1 and last:
            summary["final_score_per_seed"] = [round(v, 2) for v in last["normalized_score_per_seed"]]
        return summary


def _squeeze(metrics: dict) -> dict:
    """Per-seed arrays [S]; a single seed logs plain scalars."""
    return {k: (float(v[0]) if np.size(v) == 1 else np.asarray(v)) for k, v in metrics.items()}


class _Progress:
    """A tqdm bar over online transitions with phase, latest score and updates/s."""

    def __init__(self, config, loop: LoopState):
        from tqdm import tqdm

        self.bar = tqdm(total=config.online.max_online_transitions, initial=int(min(loop.online_transitions)),
                        unit="tr", disable=not config.log.progress_bar, dynamic_ncols=True)
        self.loop = loop

    def update(self, phase: str, record: Optional[dict], updates_per_s: float) -> None:
        self.bar.update(int(min(self.loop.online_transitions)) - self.bar.n)
        score = "n/a" if record is None else f"{record['normalized_score']:.1f}"
        self.bar.set_postfix_str(f"{phase} it {self.loop.global_iteration} score {score} upd/s {updates_per_s:.0f}")

    def close(self) -> None:
        self.bar.close()


def _prepare_workdir(workdir: str) -> None:
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise TrainingError(f"workdir {workdir!r} is not writable: {e.strerror}") from None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    return Trainer(config, workdir).run()
