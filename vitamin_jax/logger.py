"""Run outputs in the workdir: metrics.jsonl, tensorboard events, curve.png, console lines.

One JSON object per evaluation goes to metrics.jsonl; training scalars go to tensorboard
every iteration. On resume, evaluation records newer than the restored checkpoint are
dropped so that the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Mapping

import numpy as np

METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "curve.png"


def read_metrics(workdir: str) -> list[dict]:
    path = os.path.join(workdir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class RunLogger:
    def __init__(self, workdir: str, *, tensorboard: bool = True, title: str = "", keep_until_iteration: int | None = None):
        self.workdir = workdir
        self.title = title
        self.records = [r for r in read_metrics(workdir)
                        if keep_until_iteration is not None and r["global_iteration"] <= keep_until_iteration]
        self._rewrite()
        self.writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(logdir=os.path.join(workdir, "tensorboard"))

    def _rewrite(self) -> None:
        with open(os.path.join(self.workdir, METRICS_FILE), "w") as f:
            for record in self.records:
                f.write(json.dumps(record) + "\n")

    def log_scalars(self, prefix: str, scalars: Mapping[str, float], step: int) -> None:
        if self.writer is None:
            return
        for name, value in scalars.items():
            value = np.asarray(value)
            if value.ndim == 0:
                self.writer.add_scalar(f"{prefix}/{name}", float(value), step)
            else:  # one value per seed
                for seed_index, v in enumerate(value.reshape(-1)):
                    self.writer.add_scalar(f"{prefix}/{name}/seed{seed_index}", float(v), step)
                self.writer.add_scalar(f"{prefix}/{name}/mean", float(value.mean()), step)

    def log_evaluation(self, record: dict) -> None:
        """Append one evaluation record, write it to tensorboard and redraw the curve."""
        record = {k: _jsonable(v) for k, v in record.items()}
        self.records.append(record)
        with open(os.path.join(self.workdir, METRICS_FILE), "a") as f:
            f.write(json.dumps(record) + "\n")
        scalars = {k: v for k, v in record.items() if k not in ("phase", "iteration", "global_iteration", "wall_time")
                   and isinstance(v, (int, float, list))}
        self.log_scalars("evaluation", scalars, record["online_transitions"])
        if self.writer is not None:
            self.writer.flush()
        plot_curve(self.records, os.path.join(self.workdir, CURVE_FILE), self.title)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
