"""Learning curves (mean and standard error over seeds) and the rliable figures, as PNGs."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from vitamin_jax.report.aggregates import METRIC_NAMES
from vitamin_jax.report.discovery import SeedResult

PROFILE_PNG, AGGREGATES_PNG = "report_profile.png", "report_aggregates.png"
Z95 = 1.96  # learning-curve band: mean +- 1.96 standard errors over seeds


def learning_curve(seeds: Sequence[SeedResult]) -> dict:
    """Mean and standard error over seeds on the union of their evaluation points.

    Each seed is linearly interpolated onto the union; a point averages the seeds whose
    curve reaches it (a running seed stops where its run is), so n can fall along x. A
    finished seed's final score holds to the end of the finished seeds' curves: seeds stop
    a few hundred transitions apart (whole episodes), and the curve must end at the mean of
    the final scores the tables show, not at the seeds that happened to overshoot most.
    """
    seeds = [s for s in seeds if s.xs]
    if not seeds:
        return {"x": [], "mean": [], "se": [], "n": []}
    grid = np.unique(np.concatenate([s.xs for s in seeds]))
    finished_end = max((s.xs[-1] for s in seeds if s.finished), default=-np.inf)
    values = np.full((len(seeds), len(grid)), np.nan)
    for i, s in enumerate(seeds):
        end = max(s.xs[-1], finished_end) if s.finished else s.xs[-1]
        inside = (grid >= s.xs[0]) & (grid <= end)
        values[i, inside] = np.interp(grid[inside], s.xs, s.ys)  # constant past the last point
    n = (~np.isnan(values)).sum(axis=0)
    mean = np.nanmean(values, axis=0)
    std = np.array([np.nanstd(values[:, j], ddof=1) if n[j] > 1 else 0.0 for j in range(len(grid))])
    return {"x": grid.tolist(), "mean": mean.tolist(), "se": (std / np.sqrt(n)).tolist(), "n": n.tolist()}


def algo_colors(algos: Sequence[str]) -> dict:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(algos)}


def plot_curves(dataset: str, curves: dict, colors: dict, path: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for algo, c in curves.items():
        x, mean, se = (np.asarray(c[k]) for k in ("x", "mean", "se"))
        ax.plot(x, mean, color=colors[algo], marker="o", markersize=3, label=f"{algo} (n={max(c['n'])})")
        ax.fill_between(x, mean - Z95 * se, mean + Z95 * se, color=colors[algo], alpha=0.2)
    ax.set_xlabel("online transitions")
    ax.set_ylabel("D4RL normalised score")
    ax.set_title(f"{dataset}: mean ± 1.96 SE over seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_rliable(estimates: dict, colors: dict, out_dir: str) -> list[str]:
    """The performance profile and the interval-estimate plot; returns the files written."""
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    if not estimates["profiles"]:
        return []
    algos = list(estimates["profiles"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    profiles = estimates["profiles"]
    plot_utils.plot_performance_profiles({a: p for a, (p, _) in profiles.items()}, estimates["taus"],
                                         performance_profile_cis={a: ci for a, (_, ci) in profiles.items()},
                                         colors=colors, ax=ax, xlabel=r"normalised score / 100 ($\tau$)",
                                         ylabel=r"fraction of runs with score $> \tau$", legend=True)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, PROFILE_PNG), dpi=100)
    plt.close(fig)
    m = estimates["metrics"]
    points = {a: np.array([m[a][k]["point"] for k in METRIC_NAMES]) for a in algos}
    cis = {a: np.array([[m[a][k]["ci"][0] for k in METRIC_NAMES], [m[a][k]["ci"][1] for k in METRIC_NAMES]])
           for a in algos}
    row_height = max(0.6, 2.4 / len(algos))  # rliable's 0.37 in per algo crowds its axis label into the ticks
    height = row_height * len(algos)
    fig, _ = plot_utils.plot_interval_estimates(points, cis, METRIC_NAMES, algorithms=algos, colors=colors,
                                                xlabel="normalised score / 100", row_height=row_height,
                                                xlabel_y_coordinate=0.11 - 0.75 / height, wspace=0.25)
    fig.savefig(os.path.join(out_dir, AGGREGATES_PNG), dpi=100, bbox_inches="tight")
    plt.close(fig)
    return [PROFILE_PNG, AGGREGATES_PNG]
