"""The episodes of a run: online collection into each seed's replay, and evaluation.

Both step the environments with the rollout worker's one compiled action step
(vitamin_jax/rollout.py); collection may run one iteration ahead (`online.async_collect`).
"""

from __future__ import annotations

import concurrent.futures
from typing import Optional

import numpy as np

from vitamin_jax import distributed, envs
from vitamin_jax.logger import RunLogger
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.run_state import Run
from vitamin_jax.streams import COLLECT_ACTION_KEYS, EVAL_ACTION_KEYS, EVAL_EPISODES, ONLINE_EPISODES, stream_keys


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
    distributed.check_processes_agree("collected episodes", [x for r in returns for x in r])
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
    distributed.check_processes_agree("evaluation returns", np.concatenate([r.raw_returns for r in results]))
    per_seed = {
        "return_mean": [float(r.returns.mean()) for r in results],
        "return_std": [float(r.returns.std()) for r in results],
        "raw_return_mean": [float(r.raw_returns.mean()) for r in results],
        "normalized_score": [float(np.mean(s)) for s in scores],
        "normalized_score_std": [float(np.std(s)) for s in scores],
        "length_mean": [float(r.lengths.mean()) for r in results],
    }
    if envs.get_spec(c.env_name).reports_success_rate:
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
