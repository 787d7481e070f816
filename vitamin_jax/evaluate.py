"""Score, watch and compare a trained checkpoint: `python -m vitamin_jax.evaluate WORKDIR`.

Restores a workdir's newest (or `--step`) checkpoint with the run's own config.json and runs
evaluation episodes exactly as the training loop's evaluation does (episodes.evaluate: the same
rollout worker, `online.eval_rtg`, mean actions, no dropout). By default the episodes are the
ones the loop drew at that checkpoint's iteration, so the final checkpoint of a finished run
reproduces its last evaluation; `--seed` draws other episodes. No dataset is needed: the
state normalisation is in the checkpoint.

    python -m vitamin_jax.evaluate runs/pen [--step 40] [--episodes 10] [--target-return 3600]
        [--seed 7] [--video videos/] [--json scores.json]

Bad input (no workdir, no checkpoint, an unknown step, no GL for videos) is one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

import gymnasium as gym
import numpy as np

from vitamin_jax import envs
from vitamin_jax.atomic import atomic_write
from vitamin_jax.envs.options import env_options
from vitamin_jax.errors import SavedRunError
from vitamin_jax.rollout import RolloutWorker
from vitamin_jax.saved_agent import SavedAgent, load_run_config, restore_agent
from vitamin_jax.streams import EVAL_ACTION_KEYS, EVAL_EPISODES, stream_keys

COLUMNS = ("return", "normalized_score", "length")


class EvaluateError(SavedRunError):
    """The workdir cannot be evaluated as asked (besides what restoring it refuses)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line like every other bad input, not the usage page
        self.exit(2, f"error: {message} (python -m vitamin_jax.evaluate --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m vitamin_jax.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("workdir", help="a run's workdir (config.json and checkpoints/)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest)")
    p.add_argument("--episodes", type=int, default=None, help="episodes per seed (default: the run's "
                   "online.num_eval_episodes)")
    p.add_argument("--target-return", type=float, default=None, help="RTG to condition on (default: the run's "
                   "online.eval_rtg)")
    p.add_argument("--seed", type=int, default=None, help="draw other episodes: seeds S, S+1, ... replace the "
                   "run's (default: the loop's own episodes at that checkpoint)")
    p.add_argument("--video", default=None, help="write one MP4 per episode into this directory")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    return p


def episode_seeds(config, seed: Optional[int]) -> list:
    """The seeds whose evaluation streams the episodes come from: the run's own, or S, S+1, ..."""
    first = config.seed if seed is None else seed
    return [first + s for s in range(config.num_seeds)]


def rollout(config, saved: SavedAgent, episodes: int, target_return: float, seeds: list,
            video: Optional[str]) -> list:
    """One RolloutResult per seed, from the loop's evaluation streams (vitamin_jax/episodes.py: evaluate)."""
    worker = RolloutWorker.from_config(config, saved.learner.actor, episodes, state_mean=saved.state_mean,
                                       state_std=saved.state_std, explore=False,
                                       make_env=_recording(config, video, episodes) if video is not None else None)
    try:
        return worker.run_seeds(saved.agent.actor_params, target_return,
                                [(s, EVAL_EPISODES, saved.global_iteration) for s in seeds],
                                stream_keys(seeds, EVAL_ACTION_KEYS, saved.global_iteration))
    finally:
        worker.close()  # RecordVideo writes each clip when its env closes at the latest
        if video is not None:
            _drop_episode_suffix(video)


def _recording(config, directory: str, episodes: int):
    """An env factory whose envs record their one episode each to DIR/seed-S-episode-J.mp4 (S: the agent's seed).

    The worker makes its envs seed-major (`episodes` per seed) and runs one episode in each."""
    made = []

    def make():
        env = envs.make_env(config.env_name, delayed_reward=config.dataset.delayed_reward, render_mode="rgb_array",
                            **env_options(config))
        k = len(made)
        made.append(env)
        return gym.wrappers.RecordVideo(env, directory, name_prefix=f"seed-{config.seed + k // episodes}-episode-{k % episodes}",
                                        episode_trigger=lambda episode: episode == 0, disable_logger=True)

    return make


def check_video(config) -> None:
    """Refuse --video in one line before any work: a toy task, no moviepy, or no OpenGL backend."""
    if config.env_name == "toy":
        raise EvaluateError("the toy MDP has nothing to render; --video needs a MuJoCo task")
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen, no display needed
    try:
        import moviepy  # noqa: F401  (gymnasium's RecordVideo writes MP4s with it)
    except ImportError:
        raise EvaluateError("--video needs moviepy: pip install 'vitamin_jax[video]'") from None
    try:  # mujoco loads the MUJOCO_GL backend when imported: a missing library fails there
        probe = envs.make_env(config.env_name, render_mode="rgb_array", **env_options(config))
        probe.reset(seed=0)
        probe.render()
        probe.close()
    except Exception as e:
        raise EvaluateError(f"MuJoCo cannot render here with MUJOCO_GL={os.environ['MUJOCO_GL']} "
                            f"({type(e).__name__}: {str(e).splitlines()[0][:100]}); install an OpenGL backend "
                            f"(Debian: apt-get install libegl1 libgl1-mesa-dri and MUJOCO_GL=egl, or libosmesa6 "
                            f"and MUJOCO_GL=osmesa)") from None


def _drop_episode_suffix(directory: str) -> None:
    """seed-S-episode-J-episode-0.mp4 (RecordVideo adds its own episode counter) -> seed-S-episode-J.mp4."""
    suffix = "-episode-0.mp4"
    for name in os.listdir(directory):
        if name.startswith("seed-") and name.endswith(suffix):
            os.replace(os.path.join(directory, name), os.path.join(directory, name[: -len(suffix)] + ".mp4"))


def score_summary(config, results: list, seeds: list) -> dict:
    """{'seeds': [{seed, episode_seed, return, normalized_score, length: {mean, std, min, max}}], 'mean': ...}.

    `seed` is the trained agent's (the run's seed + its vmap index), `episode_seed` the stream drawn."""

    def stats(x) -> dict:  # in float64: the mean of equal float32 returns must not exceed their max
        x = np.asarray(x, np.float64)
        return {"mean": float(np.mean(x)), "std": float(np.std(x)), "min": float(np.min(x)), "max": float(np.max(x))}

    rows = []
    for s, r in enumerate(results):
        scores = np.asarray(envs.normalized_score(config.env_name, r.raw_returns), np.float64)
        rows.append({"seed": config.seed + s, "episode_seed": seeds[s], "episodes": int(len(r.lengths)), "return": stats(r.raw_returns),
                     "normalized_score": stats(scores), "length": stats(r.lengths)})
    mean = {c: {k: float(np.mean([row[c][k] for row in rows])) for k in ("mean", "std", "min", "max")}
            for c in COLUMNS}
    return {"env": config.env_name, "algo": config.algo, "seeds": rows, "mean": mean}


def format_table(summary: dict) -> str:
    """One row per seed (and their mean), each column `mean ± std [min, max]` over the episodes."""
    cell = lambda r: f"{r['mean']:.2f} ± {r['std']:.2f} [{r['min']:.2f}, {r['max']:.2f}]"
    lines = ["| seed | return | normalized score | episode length |", "|---|---|---|---|"]
    rows = [(str(r["seed"]), r) for r in summary["seeds"]]
    if len(rows) > 1:
        rows.append(("mean", summary["mean"]))
    lines += ["| " + " | ".join([name] + [cell(r[c]) for c in COLUMNS]) + " |" for name, r in rows]
    return "\n".join(lines)


def evaluate_workdir(workdir: str, step: Optional[int] = None, episodes: Optional[int] = None,
                     target_return: Optional[float] = None, seed: Optional[int] = None,
                     video: Optional[str] = None) -> dict:
    """The summary of `episodes` evaluation episodes per seed of a workdir's checkpoint."""
    config = load_run_config(workdir)
    if video is not None:
        check_video(config)
    saved = restore_agent(config, workdir, step)
    episodes = config.online.num_eval_episodes if episodes is None else episodes
    if episodes < 1:
        raise EvaluateError(f"--episodes={episodes}: at least one episode")
    target = config.online.eval_rtg if target_return is None else target_return
    seeds = episode_seeds(config, seed)
    results = rollout(config, saved, episodes, target, seeds, video)
    summary = score_summary(config, results, seeds)
    summary.update(workdir=workdir, global_iteration=int(saved.global_iteration), target_return=float(target))
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = evaluate_workdir(args.workdir, args.step, args.episodes, args.target_return, args.seed, args.video)
    except SavedRunError as e:  # EvaluateError is one
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{summary['algo']} on {summary['env']}, checkpoint {summary['global_iteration']} of {args.workdir}, "
          f"target return {summary['target_return']:g}, {summary['seeds'][0]['episodes']} episodes per seed")
    print(format_table(summary))
    if args.json:
        atomic_write(args.json, json.dumps(summary, indent=2))
    if args.video:
        print(f"videos in {args.video}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
