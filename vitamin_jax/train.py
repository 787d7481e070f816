"""The main job: offline pretraining, then online finetuning (DESIGN.md section 5).

`train_and_evaluate(config, workdir)` is importable (tests, sweeps) and restores from the
workdir on start, so resuming a killed run is the normal path, not a special case.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Optional

import jax
import ml_collections
import numpy as np

from vitamin_jax import envs
from vitamin_jax.agent import AgentState, Learner
from vitamin_jax.algorithms import phase_coefficients
from vitamin_jax.checkpointing import Checkpointer
from vitamin_jax.config_validation import resolve_config
from vitamin_jax.data import device_sampler, offline_data
from vitamin_jax.data.replay import FlatTrajectories, ReplayBuffer, flatten_trajectories
from vitamin_jax.data.sampler import SegmentSampler
from vitamin_jax.logger import RunLogger
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.types import Batch


EVAL_STREAM, ONLINE_STREAM = 0, 1  # separate episode-seed streams for evaluation and collection


class TrainingError(RuntimeError):
    """A run cannot go on (e.g. non-finite losses); the last checkpoint is kept."""


@dataclasses.dataclass
class LoopState:
    """Counters of the outer loop; saved in every checkpoint."""

    global_iteration: int = 0  # pretraining and online iterations completed
    pretrain_iteration: int = 0
    online_iteration: int = 0
    online_transitions: int = 0
    updates: int = 0
    online_started: bool = False
    wall_time: float = 0.0


def _dispatch_chunk(total: int, preferred: int) -> int:
    """Largest divisor of `total` not above `preferred`: a fixed scan length, one compile."""
    preferred = max(1, min(preferred, total))
    return max(d for d in range(1, preferred + 1) if total % d == 0)


class Trainer:
    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        self.config = config = resolve_config(config)
        self.workdir = workdir
        _prepare_workdir(workdir)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
        self.spec = envs.get_spec(config.env_name)
        self.data = offline_data(config, self.spec)
        state_dim = self.data.state_mean.shape[0]
        act_dim = self.data.trajectories[0]["actions"].shape[-1]
        self.learner = Learner.from_config(config, state_dim, act_dim, bool(config.critic.layer_norm))
        self.interval = self.learner.actor_update_interval
        self.sampler_kwargs = dict(
            context_len=config.model.context_len, state_mean=self.data.state_mean, state_std=self.data.state_std,
            reward_scale=config.online.reward_scale,
        )
        self.offline_flat = flatten_trajectories(self.data.trajectories)
        self.replay = ReplayBuffer(config.train.replay_size, self.data.trajectories)
        self.np_rng = np.random.default_rng(config.seed)
        self.agent = self.learner.init(jax.random.PRNGKey(config.seed))
        self.loop = LoopState()
        self.checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.checkpoint.keep)
        restored_iteration = self._maybe_restore()
        self.logger = RunLogger(workdir, tensorboard=config.log.tensorboard,
                                title=f"{config.algo} {config.env_name} seed {config.seed}",
                                keep_until_iteration=restored_iteration)
        self.update_many = jax.jit(self.learner.update_many)
        self.update_on_device = jax.jit(self.learner.update_many_on_device, static_argnums=(4, 5))
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
            truncation=c.online.truncation,
        )

    def _maybe_restore(self) -> Optional[int]:
        step = self.checkpointer.latest_step()
        if step is None:
            return None
        self.agent, arrays, meta = self.checkpointer.restore(step, self.agent)
        self.replay = ReplayBuffer.from_state_dict(arrays["replay"])
        self.np_rng.bit_generator.state = meta["np_rng"]
        self.loop = LoopState(**meta["loop"])
        print(f"Resumed from {self.checkpointer.directory} at iteration {step}.")
        return step

    def _save(self) -> None:
        meta = {"loop": dataclasses.asdict(self.loop), "np_rng": self.np_rng.bit_generator.state}
        arrays = {"replay": self.replay.state_dict(), "state_mean": self.data.state_mean,
                  "state_std": self.data.state_std}
        self.checkpointer.save(self.loop.global_iteration, self.agent, arrays, meta)

    # -------------------------------------------------------------- steps
    def _train(self, source: FlatTrajectories | ReplayBuffer, num_updates: int, phase: str) -> dict:
        """`num_updates` actor updates in fixed-size scanned chunks; returns mean metrics.

        'device' sampling copies the replay ring to the accelerator once per call and draws
        windows inside the scan; 'host' samples with NumPy and transfers each chunk.
        """
        c = self.config
        coeffs = phase_coefficients(c, phase)
        chunk = _dispatch_chunk(num_updates, c.train.updates_per_dispatch)
        batch_size = c.train.batch_size
        history = []
        if c.train.sampler == "device":
            flat = source.flat if isinstance(source, ReplayBuffer) else source
            replay = device_sampler.to_device(flat, self.data.state_mean, self.data.state_std, c.online.reward_scale)
            key = jax.random.fold_in(jax.random.PRNGKey(c.seed + 3), self.loop.global_iteration)
            for i in range(num_updates // chunk):
                self.agent, metrics = self.update_on_device(self.agent, replay, jax.random.fold_in(key, i), coeffs,
                                                            chunk, batch_size)
                history.append(metrics)
        else:
            sampler = SegmentSampler(source, **self.sampler_kwargs)
            for _ in range(num_updates // chunk):
                flat_batch = sampler.sample(self.np_rng, chunk * self.interval * batch_size)
                batches = jax.tree.map(lambda x: x.reshape((chunk, self.interval, batch_size) + x.shape[1:]),
                                       flat_batch)
                self.agent, metrics = self.update_many(self.agent, batches, coeffs)
                history.append(metrics)
        self.loop.updates += num_updates
        metrics = {k: float(np.mean(np.concatenate([np.asarray(h[k]) for h in history]))) for k in history[0]}
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise TrainingError(
                f"non-finite {', '.join(bad)} in {phase} iteration {self.loop.global_iteration + 1}; "
                f"the last good checkpoint in {self.checkpointer.directory} is kept. Try a lower learning rate."
            )
        return metrics

    def _evaluate(self, phase: str, iteration: int) -> dict:
        c = self.config
        key = jax.random.fold_in(jax.random.PRNGKey(c.seed + 1), self.loop.global_iteration)
        result = self.eval_worker.run(self.agent.actor_params, c.online.eval_rtg,
                                      seed=(c.seed, EVAL_STREAM, self.loop.global_iteration), key=key)
        scores = envs.normalized_score(c.env_name, result.raw_returns)
        record = {
            "phase": phase, "iteration": iteration, "global_iteration": self.loop.global_iteration,
            "total_transitions": self.loop.online_transitions, "online_transitions": self.loop.online_transitions,
            "updates": self.loop.updates, "return_mean": float(result.returns.mean()),
            "return_std": float(result.returns.std()), "raw_return_mean": float(result.raw_returns.mean()),
            "normalized_score": float(np.mean(scores)), "normalized_score_std": float(np.std(scores)),
            "length_mean": float(result.lengths.mean()), "wall_time": self.loop.wall_time,
        }
        if self.spec.family == "antmaze":
            record["success_rate"] = float(np.mean(result.raw_returns > 0))
        self.logger.log_evaluation(record)
        return record

    def _collect(self) -> dict:
        """Roll out until >= minimum_sapairs_per_iter (mean episode length per call) and >= 1 call."""
        c = self.config
        collected, calls, returns, lengths = 0.0, 0, [], []
        while calls == 0 or collected < c.online.minimum_sapairs_per_iter:
            key = jax.random.fold_in(jax.random.PRNGKey(c.seed + 2), self.loop.global_iteration * 1000 + calls)
            result = self.online_worker.run(self.agent.actor_params, c.online.online_rtg,
                                            seed=(c.seed, ONLINE_STREAM, self.loop.global_iteration, calls), key=key)
            self.replay.add(result.trajectories)
            self.loop.online_transitions += result.num_transitions
            collected += float(result.lengths.mean())
            returns.extend(result.returns.tolist())
            lengths.extend(result.lengths.tolist())
            calls += 1
        return {"return": float(np.mean(returns)), "length": float(np.mean(lengths)), "episodes": len(returns)}

    # --------------------------------------------------------------- loop
    def run(self, stop_after_iterations: Optional[int] = None) -> dict:
        """Run to the transition budget; `stop_after_iterations` stops early (tests of resume)."""
        c = self.config
        start = time.time() - self.loop.wall_time
        last_eval = None
        progress = _progress(c, self.loop)
        try:
            if self.loop.global_iteration == 0:
                self.agent = Learner.sync_targets(self.agent)
            stop = lambda: stop_after_iterations is not None and self.loop.global_iteration >= stop_after_iterations
            while self.loop.pretrain_iteration < c.train.max_pretrain_iters and not stop():
                t0 = time.time()
                metrics = self._train(self.offline_flat, c.train.num_updates_per_pretrain_iter, "pretrain")
                self.loop.pretrain_iteration += 1
                self.loop.global_iteration += 1
                self.loop.wall_time = time.time() - start
                self.logger.log_scalars("pretrain", metrics, self.loop.updates)
                last_eval = self._evaluate("pretrain", self.loop.pretrain_iteration)
                progress.update("pretrain", last_eval, c.train.num_updates_per_pretrain_iter / (time.time() - t0))
                if self._due_checkpoint() or self.loop.pretrain_iteration == c.train.max_pretrain_iters:
                    self._save()

            if self.loop.online_transitions < c.online.max_online_transitions and not stop():
                self.online_worker = self._worker(c.online.num_online_envs, explore=True)
            while self.loop.online_transitions < c.online.max_online_transitions and not stop():
                t0 = time.time()
                if not self.loop.online_started:
                    self.agent = Learner.sync_targets(self.agent)  # hard copy at the phase start
                    self.loop.online_started = True
                rollout = self._collect()
                metrics = self._train(self.replay, c.train.num_updates_per_online_iter, "online")
                self.loop.online_iteration += 1
                self.loop.global_iteration += 1
                self.loop.wall_time = time.time() - start
                self.logger.log_scalars("online", {**metrics, **{f"rollout_{k}": v for k, v in rollout.items()}},
                                        self.loop.online_transitions)
                finished = self.loop.online_transitions >= c.online.max_online_transitions
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
        return {
            "env": self.config.env_name, "algo": self.config.algo, "seed": self.config.seed,
            "pretrain_score": pre[-1]["normalized_score"] if pre else None,
            "final_score": online[-1]["normalized_score"] if online else (pre[-1]["normalized_score"] if pre else None),
            "best_score": max((r["normalized_score"] for r in records), default=None),
            "online_transitions": self.loop.online_transitions, "updates": self.loop.updates,
            "wall_time_s": round(self.loop.wall_time, 1),
        }


class _progress:
    """A tqdm bar over online transitions with phase, latest score and updates/s."""

    def __init__(self, config, loop: LoopState):
        from tqdm import tqdm

        self.bar = tqdm(total=config.online.max_online_transitions, initial=loop.online_transitions, unit="tr",
                        disable=not config.log.progress_bar, dynamic_ncols=True)
        self.loop = loop

    def update(self, phase: str, record: Optional[dict], updates_per_s: float) -> None:
        self.bar.update(self.loop.online_transitions - self.bar.n)
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
