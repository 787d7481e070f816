"""Run outputs in the workdir: metrics.jsonl, scalars.jsonl, tensorboard events, curve.png (and wandb).

One JSON object per evaluation goes to metrics.jsonl; every tensorboard point (training and
evaluation scalars) also goes to scalars.jsonl, tagged with the iteration that produced it.
On resume, both files are trimmed to the restored checkpoint's iteration, and the event
files are rebuilt from scalars.jsonl in a fresh tensorboard/ directory. So after any
sequence of kills and resumes the metrics and the event files hold exactly the points of an
uninterrupted run. (A new event file per resume with `purge_step` cannot do this: our tags
use different step axes, updates for pretraining and transitions online, and events still
in tensorboardX's queue at a kill are lost; the JSON lines are written through at once.)
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Iterable, Mapping, Optional

import numpy as np
from tqdm import tqdm

from vitamin_jax import distributed
from vitamin_jax.atomic import atomic_write
from vitamin_jax.timing import Timings

METRICS_FILE = "metrics.jsonl"
SCALARS_FILE = "scalars.jsonl"  # every tensorboard point; the event files are rebuilt from it
TENSORBOARD_DIR = "tensorboard"
CURVE_FILE = "curve.png"


def _read_jsonl(path: str) -> list[dict]:
    """The complete lines of a JSON-lines file (a line cut by a kill is dropped)."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def read_metrics(workdir: str) -> list[dict]:
    return _read_jsonl(os.path.join(workdir, METRICS_FILE))


def _write_jsonl(path: str, rows: Iterable[dict]) -> None:
    atomic_write(path, "".join(json.dumps(row) + "\n" for row in rows))


class RunLogger:
    """metrics.jsonl, scalars.jsonl, tensorboard and curve.png of one run, trimmed to `keep_until_iteration`.

    keep_until_iteration: the restored checkpoint's iteration (None: a fresh start, nothing kept).
    write: False for the other processes of a multi-process job (they keep the records in
    memory, process 0 writes every file).
    """

    def __init__(self, workdir: str, *, tensorboard: bool = True, title: str = "",
                 keep_until_iteration: Optional[int] = None, mirror_factory=None, write: bool = True):
        self.workdir = workdir
        self.title = title
        self.write = write
        kept = lambda rows: [r for r in rows
                             if keep_until_iteration is not None and r["global_iteration"] <= keep_until_iteration]
        self.records = kept(read_metrics(workdir))
        self.writer = self.mirror = None
        if not write:
            return
        points = kept(_read_jsonl(os.path.join(workdir, SCALARS_FILE)))
        _write_jsonl(os.path.join(workdir, METRICS_FILE), self.records)
        _write_jsonl(os.path.join(workdir, SCALARS_FILE), points)
        if tensorboard:
            from tensorboardX import SummaryWriter

            logdir = os.path.join(workdir, TENSORBOARD_DIR)
            shutil.rmtree(logdir, ignore_errors=True)  # rebuilt from scalars.jsonl
            self.writer = SummaryWriter(logdir=logdir)
            for p in points:
                self.writer.add_scalar(p["tag"], p["value"], p["step"])
            self.writer.flush()
        # another sink of the same points (wandb_logging.WandbMirror), given the kept points to replay
        self.mirror = mirror_factory(points) if mirror_factory is not None else None

    def log_scalars(self, prefix: str, scalars: Mapping[str, float], step: int, global_iteration: int) -> None:
        """Scalars (or per-seed arrays: one tag per seed plus the mean) at `step`, from iteration `global_iteration`."""
        points = []
        for name, value in scalars.items():
            value = np.asarray(value)
            if value.ndim == 0:
                points.append((f"{prefix}/{name}", float(value)))
            else:  # one value per seed
                points += [(f"{prefix}/{name}/seed{i}", float(v)) for i, v in enumerate(value.reshape(-1))]
                points.append((f"{prefix}/{name}/mean", float(value.mean())))
        if not self.write:
            return
        with open(os.path.join(self.workdir, SCALARS_FILE), "a") as f:
            f.write("".join(json.dumps({"global_iteration": int(global_iteration), "tag": tag, "step": int(step),
                                        "value": value}) + "\n" for tag, value in points))
        if self.writer is not None:
            for tag, value in points:
                self.writer.add_scalar(tag, value, step)
        if self.mirror is not None:
            self.mirror.log(dict(points), global_iteration)

    def log_evaluation(self, record: dict) -> None:
        """Append one evaluation record, write it to tensorboard and redraw the curve."""
        record = {k: _jsonable(v) for k, v in record.items()}
        self.records.append(record)
        if not self.write:
            return
        with open(os.path.join(self.workdir, METRICS_FILE), "a") as f:
            f.write(json.dumps(record) + "\n")
        scalars = {k: v for k, v in record.items() if k not in ("phase", "iteration", "global_iteration", "wall_time")
                   and not k.startswith("time/")  # logged as time/* scalars after the checkpoint
                   and isinstance(v, (int, float, list))}
        self.log_scalars("evaluation", scalars, record["online_transitions"], record["global_iteration"])
        if self.writer is not None:
            self.writer.flush()
        plot_curve(self.records, os.path.join(self.workdir, CURVE_FILE), self.title)

    def close(self, exit_code: int = 0) -> None:
        """Flush and close every sink; `exit_code` != 0 marks the wandb run failed."""
        if self.writer is not None:
            self.writer.close()
        if self.mirror is not None:
            self.mirror.close(exit_code)


def _jsonable(value):
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        value = np.asarray(value)
        return value.item() if value.ndim == 0 else value.tolist()
    return value


def plot_curve(records: Iterable[dict], path: str, title: str = "") -> None:
    """Normalised score against online transitions; pretraining evaluations at x = 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = list(records)
    fig, ax = plt.subplots(figsize=(6, 4))
    pre = [r for r in records if r["phase"] == "pretrain"]
    online = [r for r in records if r["phase"] == "online"]
    if pre:
        ax.scatter([0] * len(pre), [np.mean(r["normalized_score"]) for r in pre], marker="x", color="gray",
                   label="pretraining evaluations")
    if online or pre:
        xs = [0] + [r["online_transitions"] for r in online] if pre else [r["online_transitions"] for r in online]
        scores = [np.atleast_1d(r.get("normalized_score_per_seed", r["normalized_score"]))
                  for r in ([pre[-1]] if pre else []) + online]
        if scores:
            scores = np.stack(scores)  # [T, seeds]
            if scores.shape[1] > 1:
                for s in range(scores.shape[1]):
                    ax.plot(xs, scores[:, s], color="tab:blue", alpha=0.3, linewidth=1,
                            label="each seed" if s == 0 else None)
            ax.plot(xs, scores.mean(axis=1), color="tab:blue", marker="o", label="normalised score (mean)")
    ax.set_xlabel("online transitions")
    ax.set_ylabel("D4RL normalised score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class ProgressBar:
    """A tqdm bar over online transitions with phase, latest score and updates/s."""

    def __init__(self, config, loop):  # the run's run_state.LoopState, read live
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
